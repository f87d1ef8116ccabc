using System.Numerics;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Max and average pooling over [N, C, H, W] (1-d: H = 1) and global pooling, PyTorch semantics.</summary>
internal static class Pool
{
    internal static Tensor Max2d(Tensor x, (int h, int w) k, (int h, int w) s, (int h, int w) p, (int h, int w) d, bool ceil)
    {
        var (n, c, g) = Geometry("MaxPool2d", x, k, s, p, d, ceil);
        var xc = x.Contiguous();
        var y = Tensor.Empty([n, c, g.OutH, g.OutW], x.DType);
        // the argmax indices live as long as the step (pooled inside a scope, like the activations)
        var idx = Tensor.Empty([n * c * g.OutPlane], DType.Int32);
        if (x.DType == DType.Float32) PoolKernels.MaxPool2dForward<float>(xc.F, n * c, g, y.F, idx.Data<int>());
        else PoolKernels.MaxPool2dForward<double>(xc.D, n * c, g, y.D, idx.Data<int>());
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new MaxBackward(x, idx, g));
        return y;
    }

    internal static Tensor Avg2d(Tensor x, (int h, int w) k, (int h, int w) s, (int h, int w) p, bool ceil, bool countIncludePad, int divisor)
    {
        var (n, c, g) = Geometry("AvgPool2d", x, k, s, p, (1, 1), ceil);
        var xc = x.Contiguous();
        var y = Tensor.Empty([n, c, g.OutH, g.OutW], x.DType);
        if (x.DType == DType.Float32) PoolKernels.AvgPool2dForward<float>(xc.F, n * c, g, countIncludePad, divisor, y.F);
        else PoolKernels.AvgPool2dForward<double>(xc.D, n * c, g, countIncludePad, divisor, y.D);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new AvgBackward(x, g, countIncludePad, divisor));
        return y;
    }

    private static (int n, int c, PoolGeometry g) Geometry(string op, Tensor x, (int h, int w) k, (int h, int w) s,
                                                           (int h, int w) p, (int h, int w) d, bool ceil)
    {
        x.RequireFloat(op);
        if (x.Rank != 4)
            throw new ShapeMismatchException($"{op}: input must be [N, C, H, W]; got {ShapeUtil.Format(x.Shape)}.");
        try
        {
            return (x.Shape[0], x.Shape[1], new PoolGeometry(x.Shape[2], x.Shape[3], k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w, ceil));
        }
        catch (ShapeMismatchException e)
        {
            throw new ShapeMismatchException($"{op} on input {ShapeUtil.Format(x.Shape)}: {e.Message}");
        }
    }

    private sealed class MaxBackward(Tensor x, Tensor idx, PoolGeometry g) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override void Backward(Tensor gy)
        {
            // gx is cleared plane by plane inside the (parallel) scatter rather than in a serial pass first
            var gx = Tensor.Empty(_shape, gy.DType);
            var g2 = gy.Contiguous();
            int planes = _shape[0] * _shape[1];
            if (gy.DType == DType.Float32) PoolKernels.MaxPool2dBackward<float>(g2.F, idx.Data<int>(), planes, g, gx.F, overwrite: true);
            else PoolKernels.MaxPool2dBackward<double>(g2.D, idx.Data<int>(), planes, g, gx.D, overwrite: true);
            Accumulate(0, gx);
        }
    }

    private sealed class AvgBackward(Tensor x, PoolGeometry g, bool countIncludePad, int divisor) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override void Backward(Tensor gy)
        {
            var gx = Tensor.Zeros(_shape, gy.DType);
            var g2 = gy.Contiguous();
            int planes = _shape[0] * _shape[1];
            if (gy.DType == DType.Float32) PoolKernels.AvgPool2dBackward<float>(g2.F, planes, g, countIncludePad, divisor, gx.F);
            else PoolKernels.AvgPool2dBackward<double>(g2.D, planes, g, countIncludePad, divisor, gx.D);
            Accumulate(0, gx);
        }
    }
}
