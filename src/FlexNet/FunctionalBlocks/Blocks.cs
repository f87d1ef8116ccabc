using System.Globalization;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Initializers;
using FlexNet.Tensors;

namespace FlexNet.FunctionalBlocks;

/// <summary>
/// The functional tier: a network written as plain function calls, each block taking the previous
/// <see cref="Block"/>, inferring its input shape from it, creating its own parameters and returning the new
/// <c>(Output, EvalOutput, Parameters, Shape)</c>:
/// <code>
/// var rng = new RandomGenerator(1);
/// var b = Blocks.Input([1, 28, 28]);
/// b = Blocks.Conv(b, 16, 3, rng);          // [16, 26, 26]
/// b = Blocks.MaxPool(b, 2);                // [16, 13, 13]
/// b = Blocks.Activation(b, "relu");
/// b = Blocks.Dropout(b, 0.5, rng);
/// b = Blocks.Linear(b, 10, rng);           // [10] (flattens its input)
/// var opt = new Optimizer(b.Parameters, new Adam(1e-3));
/// var loss = NN.CrossEntropy(b.Output(x), y);      // training mode: dropout on
/// var logits = b.EvalOutput(xTest);                 // inference mode: dropout off, same parameters
/// </code>
/// Shapes are per sample (no batch axis); every function maps a batch [N, ...]. The blocks call the autodiff ops of
/// <see cref="NN"/>, so gradients flow through a chain with no code of its own. A shape that does not fit raises
/// <see cref="ShapeMismatchException"/> when the chain is built, naming the block and the shapes; a batch that does
/// not match the input block raises it when the chain runs. See <see cref="Block"/> for why outputs are functions.
/// </summary>
public static class Blocks
{
    /// <summary>The input of a chain: declares the per-sample shape and element type of the batches it will receive.
    /// Output and EvalOutput are the identity after checking that x is [N, ...<paramref name="shape"/>] of
    /// <paramref name="dtype"/>.</summary>
    /// <param name="shape">Per-sample shape, e.g. [1, 28, 28] for grey images (C, H, W) or [784] for vectors; every dimension positive.</param>
    /// <param name="dtype">Float32 or Float64; the parameters of the blocks that follow use it too.</param>
    /// <param name="name">Block name (default <c>input</c>).</param>
    /// <returns>The input block (no parameters).</returns>
    /// <exception cref="ShapeMismatchException">An empty shape or a non-positive dimension.</exception>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not a floating-point type.</exception>
    public static Block Input(int[] shape, DType dtype = DType.Float32, string name = "input")
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (dtype is not (DType.Float32 or DType.Float64))
            throw new ArgumentException($"Blocks.Input '{name}': dtype must be Float32 or Float64. Received: {dtype}", nameof(dtype));
        if (shape.Length == 0 || Array.Exists(shape, d => d < 1))
            throw new ShapeMismatchException($"Blocks.Input '{name}': the per-sample shape must have at least one dimension, all positive. Received: {ShapeUtil.Format(shape)}");
        var s = (int[])shape.Clone();
        Tensor Check(Tensor x)
        {
            ArgumentNullException.ThrowIfNull(x);
            bool fits = x.Rank == s.Length + 1 && x.DType == dtype;
            for (int d = 0; fits && d < s.Length; d++) fits = x.Shape[d + 1] == s[d];
            if (!fits)
                throw new ShapeMismatchException($"Blocks.Input '{name}': expected a batch [N, {string.Join(", ", s)}] ({dtype}); got {ShapeUtil.Format(x.Shape)} ({x.DType}).");
            return x;
        }
        return new Block(null, name, $"Input {ShapeUtil.Format(s)} {dtype}", dtype, s, Check, Check, []);
    }

    /// <summary>2-d convolution (cross-correlation, as <see cref="NN.Conv2d(Tensor, Tensor, Tensor?, int, Padding, int)"/>):
    /// y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v]·x[n, c, i·s + u − p, j·s + v − p].
    /// Input per-sample shape [C, H, W] → [F, H', W'], H' = ⌊(H + p_top + p_bottom − k)/s⌋ + 1 (⌈H/s⌉ for <see cref="Padding.Same"/>).
    /// Creates W [F, C, k, k] (Glorot uniform, U(±√(6/((C + F)·k²)))) and, unless <paramref name="bias"/> is false, b [F] = 0.</summary>
    /// <param name="input">The previous block; its shape must be [C, H, W].</param>
    /// <param name="filters">Number of output channels F (positive).</param>
    /// <param name="kernel">Square kernel size k (positive).</param>
    /// <param name="rng">Generator for the weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <param name="stride">Stride s on both axes (positive).</param>
    /// <param name="padding">Padding (default valid: none).</param>
    /// <param name="bias">Whether to add a per-channel bias.</param>
    /// <param name="name">Block name (default <c>conv{index}</c>).</param>
    /// <returns>The convolution block.</returns>
    /// <exception cref="ShapeMismatchException">The input is not [C, H, W], the kernel does not fit in the (padded) input, or
    /// the weight [F, C, k, k] would hold more than <see cref="Array.MaxLength"/> elements.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive filter count, kernel size or stride.</exception>
    public static Block Conv(Block input, int filters, int kernel, RandomGenerator? rng = null, int stride = 1,
                             Padding padding = default, bool bias = true, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        name ??= "conv" + (input.Index + 1);
        Positive(name, "filters", filters);
        Positive(name, "kernel", kernel);
        Positive(name, "stride", stride);
        var s = input.Shape;
        if (s.Count != 3)
            throw new ShapeMismatchException($"Blocks.Conv '{name}': input '{input.Name}' has per-sample shape {Format(s)}; a convolution needs [C, H, W].");
        int c = s[0];
        int oh = ConvOut(name, input, s[1], kernel, stride, padding, padding.Top, padding.Bottom, "height");
        int ow = ConvOut(name, input, s[2], kernel, stride, padding, padding.Left, padding.Right, "width");
        // the weight [F, C, k, k] must fit in one array (the kernel fits the padded input, which alone does not bound it)
        // Stryker disable once Equality : >= differs only for a weight of exactly Array.MaxLength elements, which the original then allocates (8.6 GB): no test can run it
        if (Capped(Capped(Capped(filters, c), kernel), kernel) > Array.MaxLength)
            throw new ShapeMismatchException($"Blocks.Conv '{name}': a weight [{filters}, {c}, {kernel}, {kernel}] for input '{input.Name}' of per-sample shape {Format(s)} would hold more than {Array.MaxLength} elements.");
        Tensor w;
        Tensor? b = null;
        using (TensorScope.Suspend())
        {
            w = Init.GlorotUniform([filters, c, kernel, kernel], rng: rng, dtype: input.DType).RequireGrad();
            if (bias) b = Init.Zeros([filters], input.DType).RequireGrad();
        }
        w.Name = name + ".weight";
        if (b is not null) b.Name = name + ".bias";
        var prevOut = input.Output;
        var prevEval = input.EvalOutput;
        // Padding.ToString() gives "same", "1" or "(1, 0, 2, 0)"; only no padding at all gets a word of its own
        string pad = padding == Padding.Valid ? "valid" : padding.ToString();
        return new Block(input, name, $"Conv2d({c} → {filters}, {kernel}×{kernel}, stride {stride}, padding {pad})",
            input.DType, [filters, oh, ow],
            x => NN.Conv2d(prevOut(x), w, b, stride, padding),
            x => NN.Conv2d(prevEval(x), w, b, stride, padding),
            b is null ? [w] : [w, b]);
    }

    /// <summary>2-d max pooling without padding: y[n,c,i,j] = max_{0≤u,v&lt;k} x[n, c, i·s + u, j·s + v].
    /// Input per-sample shape [C, H, W] → [C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1]. No parameters.</summary>
    /// <param name="input">The previous block; its shape must be [C, H, W] with H, W ≥ k.</param>
    /// <param name="size">Window size k (positive).</param>
    /// <param name="stride">Stride s (default k: non-overlapping windows).</param>
    /// <param name="name">Block name (default <c>maxpool{index}</c>).</param>
    /// <returns>The pooling block.</returns>
    /// <exception cref="ShapeMismatchException">The input is not [C, H, W] or is smaller than the window.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive size or stride.</exception>
    public static Block MaxPool(Block input, int size, int? stride = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        name ??= "maxpool" + (input.Index + 1);
        Positive(name, "size", size);
        int st = stride ?? size;
        Positive(name, "stride", st);
        var s = input.Shape;
        if (s.Count != 3)
            throw new ShapeMismatchException($"Blocks.MaxPool '{name}': input '{input.Name}' has per-sample shape {Format(s)}; max pooling needs [C, H, W].");
        if (s[1] < size || s[2] < size)
            throw new ShapeMismatchException($"Blocks.MaxPool '{name}': the {size}×{size} window does not fit input '{input.Name}' of per-sample shape {Format(s)}.");
        int[] shape = [s[0], (s[1] - size) / st + 1, (s[2] - size) / st + 1];
        var prevOut = input.Output;
        var prevEval = input.EvalOutput;
        return new Block(input, name, $"MaxPool2d({size}×{size}, stride {st})", input.DType, shape,
            x => NN.MaxPool2d(prevOut(x), size, st),
            x => NN.MaxPool2d(prevEval(x), size, st),
            []);
    }

    /// <summary>An activation by name, as <see cref="Activations.Get"/>: y = act(x), e.g. <c>relu</c> max(x, 0),
    /// <c>tanh</c>, <c>sigmoid</c> 1/(1+e^(−x)), <c>softmax</c> (over the first per-sample axis). Shape unchanged; no parameters.</summary>
    /// <param name="input">The previous block.</param>
    /// <param name="activation">Activation name (case-insensitive; see <see cref="Activations.Names"/>).</param>
    /// <param name="name">Block name (default <c>activation{index}</c>).</param>
    /// <returns>The activation block.</returns>
    /// <exception cref="ArgumentException">Unknown activation (the message lists the known ones).</exception>
    public static Block Activation(Block input, string activation, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activation);
        var f = Activations.Get(activation);
        name ??= "activation" + (input.Index + 1);
        var prevOut = input.Output;
        var prevEval = input.EvalOutput;
        return new Block(input, name, $"Activation({activation})", input.DType, [.. input.Shape],
            x => f(prevOut(x)),
            x => f(prevEval(x)),
            []);
    }

    /// <summary>Fully connected (affine) layer, as <see cref="NN.Linear"/>: y = flatten(x)·Wᵀ + b.
    /// Input per-sample shape [d₁, ..., dₖ] (flattened to D = Πdᵢ) → [<paramref name="units"/>].
    /// Creates W [units, D] (Glorot uniform, U(±√(6/(D + units)))) and, unless <paramref name="bias"/> is false, b [units] = 0.</summary>
    /// <param name="input">The previous block.</param>
    /// <param name="units">Number of outputs (positive).</param>
    /// <param name="rng">Generator for the weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <param name="bias">Whether to add a bias.</param>
    /// <param name="name">Block name (default <c>linear{index}</c>).</param>
    /// <returns>The linear block.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive unit count.</exception>
    /// <exception cref="ShapeMismatchException">D or the weight [units, D] exceeds <see cref="Array.MaxLength"/> elements.</exception>
    public static Block Linear(Block input, int units, RandomGenerator? rng = null, bool bias = true, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        name ??= "linear" + (input.Index + 1);
        Positive(name, "units", units);
        long features = 1;
        foreach (int d in input.Shape) features = Capped(features, d); // [65536, 65536, 65536, 65536] must not wrap to 0
        if (features > Array.MaxLength)
            throw new ShapeMismatchException($"Blocks.Linear '{name}': input '{input.Name}' of per-sample shape {Format(input.Shape)} has more than {Array.MaxLength} features.");
        // the weight [units, D] must fit in one array: checked here, by name, instead of failing in the allocation
        // Stryker disable once Equality : >= differs only for a weight of exactly Array.MaxLength elements, which the original then allocates (8.6 GB): no test can run it
        if (Capped(features, units) > Array.MaxLength)
            throw new ShapeMismatchException($"Blocks.Linear '{name}': input '{input.Name}' of per-sample shape {Format(input.Shape)} has {features} features; a weight [{units}, {features}] would hold more than {Array.MaxLength} elements.");
        int fin = (int)features;
        Tensor w;
        Tensor? b = null;
        using (TensorScope.Suspend())
        {
            w = Init.GlorotUniform([units, fin], rng: rng, dtype: input.DType).RequireGrad();
            if (bias) b = Init.Zeros([units], input.DType).RequireGrad();
        }
        w.Name = name + ".weight";
        if (b is not null) b.Name = name + ".bias";
        bool flatten = input.Shape.Count != 1;
        var prevOut = input.Output;
        var prevEval = input.EvalOutput;
        return new Block(input, name, flatten ? $"Linear(flatten {Format(input.Shape)} = {fin} → {units})" : $"Linear({fin} → {units})",
            input.DType, [units],
            // Stryker disable once Conditional : speed only: Flatten() of an [N, D] batch is a reshape to the same [N, D] (same values, same gradient); skipping it saves a node per call
            x => NN.Linear(flatten ? prevOut(x).Flatten() : prevOut(x), w, b),
            // Stryker disable once Conditional : speed only: as above, for the inference pipeline
            x => NN.Linear(flatten ? prevEval(x).Flatten() : prevEval(x), w, b),
            b is null ? [w] : [w, b]);
    }

    /// <summary>Inverted dropout, as <see cref="NN.Dropout"/>: in <see cref="Block.Output"/> each element is zeroed with
    /// probability p and the survivors are scaled by 1/(1 − p), with a fresh mask at every call; in
    /// <see cref="Block.EvalOutput"/> it is the identity. Shape unchanged; no parameters.</summary>
    /// <param name="input">The previous block.</param>
    /// <param name="p">Drop probability in [0, 1).</param>
    /// <param name="rng">Generator of the masks (default <see cref="RandomGenerator.Default"/>); it advances at every training call.</param>
    /// <param name="name">Block name (default <c>dropout{index}</c>).</param>
    /// <returns>The dropout block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1).</exception>
    public static Block Dropout(Block input, double p, RandomGenerator? rng = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        name ??= "dropout" + (input.Index + 1);
        if (!(p >= 0 && p < 1))
            throw new ArgumentOutOfRangeException(nameof(p), $"Blocks.Dropout '{name}': the drop probability must be in [0, 1). Received: {p}");
        var prevOut = input.Output;
        return new Block(input, name, string.Create(CultureInfo.InvariantCulture, $"Dropout({p})"), input.DType, [.. input.Shape],
            x => NN.Dropout(prevOut(x), p, training: true, rng),
            input.EvalOutput,
            []);
    }

    private static int ConvOut(string name, Block input, int size, int kernel, int stride, Padding padding, int before, int after, string axis)
    {
        if (padding.IsSame) return (size + stride - 1) / stride;
        int padded = size + before + after;
        if (padded < kernel)
            throw new ShapeMismatchException($"Blocks.Conv '{name}': the {kernel}×{kernel} kernel does not fit the {axis} {size} (padded {padded}) of input '{input.Name}' of per-sample shape {Format(input.Shape)}.");
        return (padded - kernel) / stride + 1;
    }

    /// <summary>a·b for 0 ≤ a ≤ Array.MaxLength + 1 and 0 ≤ b ≤ int.MaxValue, capped at Array.MaxLength + 1 (no overflow: a·b &lt; 2⁶²).</summary>
    private static long Capped(long a, int b) => Math.Min(a * b, (long)Array.MaxLength + 1);

    private static void Positive(string name, string what, int value)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(what, $"Block '{name}': {what} must be positive. Received: {value}");
    }

    private static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";
}
