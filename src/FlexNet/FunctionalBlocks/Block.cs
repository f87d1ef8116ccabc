using System.Globalization;
using System.Text;
using FlexNet.Tensors;

namespace FlexNet.FunctionalBlocks;

/// <summary>
/// The result of one block of the functional tier (see <see cref="Blocks"/>): the seed's
/// <c>(output, evalOutput, parameters, shape)</c> of a small Theano-era framework, made eager.
/// </summary>
/// <remarks>
/// <para><b>Why functions and not tensors.</b> In Theano a block received the symbolic outputs of the previous block
/// and returned symbolic expressions; the graph was built once and evaluated many times. FlexNet tensors are eager
/// (an op computes its value when called), so a "symbolic output" here is a function of the input batch:
/// <see cref="Output"/> and <see cref="EvalOutput"/> are <c>Func&lt;Tensor, Tensor&gt;</c> that map a batch
/// x [N, ...input shape] to this block's output [N, ...<see cref="Shape"/>]. Building the chain
/// (<c>b = Blocks.Conv(b, ...)</c>) happens once: each factory infers its input shape from the previous block,
/// validates it, creates its parameters with that shape and composes its function onto the previous block's.
/// Running the chain is then a plain call, <c>b.Output(x)</c>, recorded by autodiff like any other tensor code.</para>
/// <para><b>Train and eval mode.</b> <see cref="Output"/> is the training-mode pipeline (dropout draws a fresh mask
/// at every call); <see cref="EvalOutput"/> is the inference-mode counterpart (dropout is the identity). Both close
/// over the same parameter tensors, so an optimizer step on <see cref="Parameters"/> changes both. Neither
/// disables gradient recording: wrap inference in <c>using (Autograd.NoGrad())</c> to skip the tape.</para>
/// <para><b>Parameters.</b> <see cref="Parameters"/> lists every parameter of the chain up to and including this
/// block, each once, in creation order (hand it to an optimizer); <see cref="OwnParameters"/> lists only those this
/// block created. Parameters are leaf tensors with <see cref="Tensor.RequiresGrad"/> set, named
/// <c>{block name}.weight</c> / <c>{block name}.bias</c>, allocated outside any <see cref="TensorScope"/>.</para>
/// </remarks>
public sealed record Block
{
    private readonly int[] _shape;
    private readonly Tensor[] _parameters;
    private readonly Tensor[] _own;

    internal Block(Block? previous, string name, string description, DType dtype, int[] shape,
                   Func<Tensor, Tensor> output, Func<Tensor, Tensor> evalOutput, Tensor[] own)
    {
        Previous = previous;
        Name = name;
        Description = description;
        DType = dtype;
        Index = previous is null ? 0 : previous.Index + 1;
        _shape = shape;
        Output = output;
        EvalOutput = evalOutput;
        _own = own;
        if (previous is null || own.Length == 0)
            _parameters = previous is null ? own : previous._parameters;
        else
        {
            var all = new List<Tensor>(previous._parameters.Length + own.Length);
            all.AddRange(previous._parameters);
            foreach (var p in own)
                if (!all.Contains(p)) all.Add(p);
            _parameters = all.ToArray();
        }
    }

    /// <summary>Training-mode forward pass of the chain ending at this block: x [N, ...input shape] → [N, ...<see cref="Shape"/>].
    /// Dropout blocks draw a fresh mask at every call.</summary>
    public Func<Tensor, Tensor> Output { get; }

    /// <summary>Inference-mode forward pass of the same chain with the same parameters: dropout is the identity.</summary>
    public Func<Tensor, Tensor> EvalOutput { get; }

    /// <summary>Every parameter of the chain up to this block, each once, in creation order.</summary>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>The parameters this block created (empty for input, pooling, activation and dropout).</summary>
    public IReadOnlyList<Tensor> OwnParameters => _own;

    /// <summary>Per-sample output shape (without the batch axis), e.g. [C, H, W] after a convolution, [units] after a linear block.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Name of the block (<c>input</c>, or the kind followed by the position in the chain, e.g. <c>conv1</c>, unless given).</summary>
    public string Name { get; }

    /// <summary>What the block computes, e.g. <c>Conv2d(1 → 16, 3×3, stride 1, padding valid)</c>.</summary>
    public string Description { get; }

    /// <summary>Element type of the chain's input and parameters (set by <see cref="Blocks.Input"/>).</summary>
    public DType DType { get; }

    /// <summary>Position in the chain: 0 for the input block.</summary>
    public int Index { get; }

    /// <summary>The block this one was applied to (null for the input block).</summary>
    public Block? Previous { get; }

    /// <summary>Deconstructs into the seed's tuple <c>(output, evalOutput, parameters, shape)</c>.</summary>
    /// <param name="output">See <see cref="Output"/>.</param>
    /// <param name="evalOutput">See <see cref="EvalOutput"/>.</param>
    /// <param name="parameters">See <see cref="Parameters"/>.</param>
    /// <param name="shape">See <see cref="Shape"/>.</param>
    public void Deconstruct(out Func<Tensor, Tensor> output, out Func<Tensor, Tensor> evalOutput,
                            out IReadOnlyList<Tensor> parameters, out IReadOnlyList<int> shape)
    {
        output = Output;
        evalOutput = EvalOutput;
        parameters = Parameters;
        shape = Shape;
    }

    /// <summary>Number of scalar parameters in the chain up to this block.</summary>
    public long ParameterCount
    {
        get
        {
            long n = 0;
            foreach (var p in _parameters) n += p.Length;
            return n;
        }
    }

    /// <summary>One line per block from the input to this one: name, description, per-sample output shape and parameter count.</summary>
    /// <returns>The summary.</returns>
    public string Summary()
    {
        var chain = new List<Block>();
        for (var b = this; b is not null; b = b.Previous) chain.Add(b);
        chain.Reverse();
        var sb = new StringBuilder();
        foreach (var b in chain)
        {
            long own = 0;
            foreach (var p in b._own) own += p.Length;
            sb.Append(CultureInfo.InvariantCulture, $"{b.Name,-12} {b.Description,-44} {ShapeUtil.Format(b._shape),-14} {own,8}").Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"{"total",-12} {"",-44} {"",-14} {ParameterCount,8}");
        return sb.ToString();
    }

    /// <summary>Name, description and per-sample shape of this block.</summary>
    /// <returns>For example <c>conv1: Conv2d(1 → 16, 3×3, stride 1, padding valid) → [16, 26, 26]</c>.</returns>
    public override string ToString() => $"{Name}: {Description} → {ShapeUtil.Format(_shape)}";
}
