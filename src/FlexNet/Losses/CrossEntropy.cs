using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Losses;

/// <summary>
/// Softmax cross-entropy from logits <c>x [..., C]</c> (theanets <c>xe</c>, computed stably through log-softmax).
/// Integer labels (Int32, shape <c>[...]</c>): <c>l = −log softmax(x)[y] = logΣexp(x) − x_y</c>, one fused op with
/// gradient <c>softmax(x) − onehot(y)</c>. Probability / one-hot targets (float, shape <c>[..., C]</c>):
/// <c>l = −Σ_c t_c log softmax(x)_c</c>. Works on <c>[N, C]</c> and on every step of <c>[T, N, C]</c>
/// (or the last with <see cref="Loss.LastStepOnly"/>).
/// </summary>
public sealed class CrossEntropy : Loss
{
    /// <inheritdoc/>
    public override string Name => "xe";

    /// <summary>Label smoothing ε for integer labels: the target becomes <c>(1−ε)·onehot + ε/C</c>.</summary>
    public double LabelSmoothing { get; init; }

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target)
    {
        if (output.Rank < 1) throw new ShapeMismatchException($"xe loss: logits must be [..., classes]; got a scalar.");
        int c = output.ShapeArray[^1];
        var sampleShape = output.Shape[..^1];
        if (target.DType == DType.Int32)
        {
            if (!ShapeUtil.SameShape(target.Shape, sampleShape))
                throw new ShapeMismatchException($"xe loss: integer labels {ShapeUtil.Format(target.Shape)} must have the logits' sample shape {ShapeUtil.Format(sampleShape)} (logits {ShapeUtil.Format(output.Shape)}).");
            if (LabelSmoothing != 0)
            {
                Tensor oh;
                using (Autograd.NoGrad()) oh = OneHot(target, c, output.DType) * (1 - LabelSmoothing) + LabelSmoothing / c;
                return -(oh * NN.LogSoftmax(output, -1)).Sum(-1);
            }
            // shapes on the stack: no array per training step
            var rows = LabelRows(Autodiff.Ops.Movement.Reshape(output, [-1, c]), Autodiff.Ops.Movement.Reshape(target, [-1]));
            return Autodiff.Ops.Movement.Reshape(rows, sampleShape);
        }
        if (ShapeUtil.SameShape(target.Shape, sampleShape) && !ShapeUtil.SameShape(target.Shape, output.Shape))
            throw new ShapeMismatchException($"xe loss: the labels {ShapeUtil.Format(target.Shape)} are {target.DType} numbers, one per sample; a class loss takes " +
                                             $"integer labels: convert them to Int32 (labels.To(DType.Int32), or Tensor.FromArray(int[])), or give one-hot/probability " +
                                             $"targets of the logits' shape {ShapeUtil.Format(output.Shape)}.");
        var t = SameShapeTarget(output, target);
        return -(t.Detach() * NN.LogSoftmax(output, -1)).Sum(-1);
    }

    /// <summary>One-hot encoding of Int32 labels: <c>[...]</c> → <c>[..., classes]</c>.</summary>
    /// <param name="labels">Labels in [0, classes).</param>
    /// <param name="classes">C.</param>
    /// <param name="dtype">Float dtype of the result.</param>
    /// <returns>The one-hot tensor.</returns>
    public static Tensor OneHot(Tensor labels, int classes, DType dtype = DType.Float32)
    {
        labels.RequireDType(DType.Int32, "OneHot");
        var lab = labels.ToInt32Array();
        var shape = new int[labels.Rank + 1];
        labels.Shape.CopyTo(shape);
        shape[^1] = classes;
        var y = Tensor.Zeros(shape, dtype);
        for (int i = 0; i < lab.Length; i++)
        {
            if ((uint)lab[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"OneHot: label {lab[i]} at position {i} is outside [0, {classes}).");
            y.SetFlat(i * classes + lab[i], 1);
        }
        return y;
    }

    /// <summary>Per-row <c>logΣexp(x) − x_y</c> for logits [M, C] and labels [M] → [M].</summary>
    internal static Tensor LabelRows(Tensor logits, Tensor labels)
    {
        int m = logits.ShapeArray[0], c = logits.ShapeArray[1];
        // the labels as a contiguous Int32 tensor of this step (no int[] copy per step); the node reads them in backward.
        // They are Int32: PerSample, the only caller, takes this path for Int32 targets only.
        var labT = labels.Contiguous();
        var lab = labT.Data<int>();
        for (int i = 0; i < m; i++)
            if ((uint)lab[i] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(labels), $"xe loss: label {lab[i]} at sample {i} is outside [0, {c}) for logits {ShapeUtil.Format(logits.Shape)}.");
        var xc = logits.Contiguous();
        var logp = Tensor.Empty(xc.ShapeArray, xc.DType);
        var y = Tensor.Empty([m], xc.DType);
        if (xc.DType == DType.Float32)
        {
            Kernels.SoftmaxKernels.LogForward<float>(xc.F, logp.F, m, c);
            var lp = logp.F; var yy = y.F;
            for (int i = 0; i < m; i++) yy[i] = -lp[i * c + lab[i]];
        }
        else
        {
            Kernels.SoftmaxKernels.LogForward<double>(xc.D, logp.D, m, c);
            var lp = logp.D; var yy = y.D;
            for (int i = 0; i < m; i++) yy[i] = -lp[i * c + lab[i]];
        }
        if (Autograd.ShouldRecord(logits)) y.MarkRecorded(LabelRowsBackward.Make(logits, logp, labT));
        return y;
    }

    private sealed class LabelRowsBackward : Node
    {
        private Tensor? _logp;
        private Tensor? _labels;

        /// <summary>A node for the rows' losses (a dead one of an earlier training step when there is one).</summary>
        internal static LabelRowsBackward Make(Tensor logits, Tensor logp, Tensor labels)
        {
            // Stryker disable once NullCoalescing : a pooled dead node is re-armed in full; a new one differs in memory only
            var n = NodePool<LabelRowsBackward>.Take() ?? new LabelRowsBackward();
            n.Rearm([logits]);
            n._logp = logp;
            n._labels = labels;
            return n;
        }

        internal override bool Recycle() => NodePool<LabelRowsBackward>.Return(this);

        public override string Name => "CrossEntropyBackward";

        protected internal override void Backward(Tensor gy)
        {
            // dl_i/dx_ij = (softmax_ij − [j = y_i]) · gy_i
            var g = gy.Contiguous();
            var lp = _logp!;
            var labels = _labels!.Data<int>();
            int c = lp.ShapeArray[1];
            var gx = Tensor.Empty(lp.ShapeArray, lp.DType);
            if (gx.DType == DType.Float32)
            {
                var d = gx.F; var gg = g.F;
                TensorPrimitives.Exp(lp.F, d);
                for (int i = 0; i < labels.Length; i++)
                {
                    d[i * c + labels[i]] -= 1f;
                    TensorPrimitives.Multiply(d.Slice(i * c, c), gg[i], d.Slice(i * c, c));
                }
            }
            else
            {
                var d = gx.D; var gg = g.D;
                TensorPrimitives.Exp(lp.D, d);
                for (int i = 0; i < labels.Length; i++)
                {
                    d[i * c + labels[i]] -= 1;
                    TensorPrimitives.Multiply(d.Slice(i * c, c), gg[i], d.Slice(i * c, c));
                }
            }
            Accumulate(0, gx);
        }

        // Stryker disable once Block : memory only: the node drops its saved tensors when it is released; a pooled node is re-armed (Make) before it is read again
        protected override void ReleaseSaved()
        {
            _logp = null;
            _labels = null;
        }
    }
}
