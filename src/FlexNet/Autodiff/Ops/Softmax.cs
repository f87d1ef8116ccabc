using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Softmax, log-softmax (along the last axis after moving the chosen axis there) and softmax cross-entropy,
/// over the row kernels of <see cref="SoftmaxKernels"/> (stable for large logits, row-parallel).</summary>
internal static class Softmax
{
    internal static Tensor Apply(Tensor x, int axis, bool log)
    {
        x.RequireFloat(log ? "LogSoftmax" : "Softmax");
        // a scalar is one row of one element, along axis 0 or -1 (as in PyTorch)
        axis = x.Rank == 0 && axis == -1 ? 0 : ShapeUtil.NormalizeAxis(axis, x.Rank, "Softmax");
        if (x.Rank > 0 && axis != x.Rank - 1)
            return Movement.Transpose(Apply(Movement.Transpose(x, axis, -1), -1, log), axis, -1);
        var xc = x.Contiguous();
        var y = Tensor.Empty(x.ShapeArray, x.DType);
        int cols = x.Rank == 0 ? 1 : x.ShapeArray[^1];
        int rows = cols == 0 ? 0 : y.Length / cols;
        if (x.DType == DType.Float32)
        {
            if (log) SoftmaxKernels.LogForward<float>(xc.F, y.F, rows, cols);
            else SoftmaxKernels.Forward<float>(xc.F, y.F, rows, cols);
        }
        else
        {
            if (log) SoftmaxKernels.LogForward<double>(xc.D, y.D, rows, cols);
            else SoftmaxKernels.Forward<double>(xc.D, y.D, rows, cols);
        }
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new SoftmaxBackward(x, y, log, rows, cols));
        return y;
    }

    private sealed class SoftmaxBackward(Tensor x, Tensor y, bool log, int rows, int cols) : Node(x)
    {
        private Tensor? _y = y;

        protected internal override void Backward(Tensor gy)
        {
            var g = gy.Contiguous();
            var gx = Tensor.Zeros(g.ShapeArray, g.DType); // the kernels accumulate
            if (g.DType == DType.Float32)
            {
                if (log) SoftmaxKernels.LogBackward<float>(_y!.F, g.F, gx.F, rows, cols);
                else SoftmaxKernels.Backward<float>(_y!.F, g.F, gx.F, rows, cols);
            }
            else
            {
                if (log) SoftmaxKernels.LogBackward<double>(_y!.D, g.D, gx.D, rows, cols);
                else SoftmaxKernels.Backward<double>(_y!.D, g.D, gx.D, rows, cols);
            }
            Accumulate(0, gx);
        }

        protected override void ReleaseSaved() => _y = null;
    }

    /// <summary>Mean (or sum) over rows of −log softmax(logits)[label], logits [N, C], labels Int32 [N].</summary>
    internal static Tensor CrossEntropy(Tensor logits, Tensor labels, bool mean)
    {
        logits.RequireFloat("CrossEntropy");
        if (logits.Rank != 2)
            throw new ShapeMismatchException($"CrossEntropy: logits must be [batch, classes]; got {ShapeUtil.Format(logits.Shape)}.");
        int n = logits.ShapeArray[0], c = logits.ShapeArray[1];
        if (labels.Rank != 1 || labels.ShapeArray[0] != n)
            throw new ShapeMismatchException($"CrossEntropy: labels must be [{n}] for logits {ShapeUtil.Format(logits.Shape)}; got {ShapeUtil.Format(labels.Shape)}.");
        var lab = labels.ToInt32Array();
        var xc = logits.Contiguous();
        double total = 0;
        if (logits.DType == DType.Float32)
        {
            var loss = new float[n];
            SoftmaxKernels.CrossEntropy<float>(xc.F, lab, n, c, loss, default, 0f); // validates the labels
            foreach (var v in loss) total += v;
        }
        else
        {
            var loss = new double[n];
            SoftmaxKernels.CrossEntropy<double>(xc.D, lab, n, c, loss, default, 0.0);
            foreach (var v in loss) total += v;
        }
        double scale = mean ? 1.0 / Math.Max(n, 1) : 1.0;
        var y = Tensor.Full([], total * scale, logits.DType);
        if (Autograd.ShouldRecord(logits)) y.MarkRecorded(new CrossEntropyBackward(logits, xc, lab, scale));
        return y;
    }

    private sealed class CrossEntropyBackward(Tensor logits, Tensor xc, int[] labels, double scale) : Node(logits)
    {
        private Tensor? _logits = xc;

        protected internal override void Backward(Tensor gy)
        {
            // d/dlogits = (softmax − onehot) · scale · gy, accumulated by the kernel into a zeroed gradient
            double s = gy.Item() * scale;
            int n = labels.Length, c = _logits!.ShapeArray[1];
            var gx = Tensor.Zeros(_logits.ShapeArray, _logits.DType);
            if (gx.DType == DType.Float32)
            {
                var gl = new float[n];
                Array.Fill(gl, (float)s);
                SoftmaxKernels.CrossEntropyBackward<float>(_logits.F, labels, n, c, gl, gx.F);
            }
            else
            {
                var gl = new double[n];
                Array.Fill(gl, s);
                SoftmaxKernels.CrossEntropyBackward<double>(_logits.D, labels, n, c, gl, gx.D);
            }
            Accumulate(0, gx);
        }

        protected override void ReleaseSaved() => _logits = null;
    }
}
