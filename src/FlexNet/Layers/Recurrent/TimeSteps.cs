using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// Splits a contiguous [T, ...] tensor into T step views whose backward costs O(size of the step), not O(size of
/// the whole sequence): T ordinary slices would each scatter into a fresh [T, ...] zero gradient (O(T²) work per
/// backward). Here every step's backward adds into one shared gradient, which a hub node hands on once.
/// </summary>
internal static class TimeSteps
{
    internal static Tensor[] Unbind(Tensor x)
    {
        if (x.Rank < 1) throw new ShapeMismatchException($"TimeSteps.Unbind: a [T, ...] tensor is needed; got shape {ShapeUtil.Format(x.Shape)}.");
        int steps = x.ShapeArray[0];
        var r = new Tensor[steps];
        if (!Autograd.ShouldRecord(x))
        {
            for (int t = 0; t < steps; t++) r[t] = x.Slice(0, t, 1).Squeeze(0);
            return r;
        }
        x = x.Contiguous();
        var stepShape = x.ShapeArray[1..];
        var stepStrides = ShapeUtil.ContiguousStrides(stepShape);
        int stepLength = ShapeUtil.Product(stepShape);
        var hubNode = new HubBackward(x);
        var hub = Tensor.Create(x.Storage, x.ShapeArray, x.StridesArray, x.Offset);
        hub.MarkRecorded(hubNode);
        for (int t = 0; t < steps; t++)
        {
            var view = Tensor.Create(x.Storage, stepShape, stepStrides, x.Offset + t * stepLength);
            view.MarkRecorded(new StepBackward(hub, hubNode, t * stepLength));
            r[t] = view;
        }
        return r;
    }

    /// <summary>Passes the gradient gathered from all steps to the sequence tensor.</summary>
    private sealed class HubBackward(Tensor x) : Node(x)
    {
        internal int[] Shape { get; } = x.ShapeArray;

        internal DType DType { get; } = x.DType;

        // Stryker disable once Boolean: memory only: owned: false hands on a copy of the same gradient
        protected internal override void Backward(Tensor gy) => Accumulate(0, gy, owned: true);
    }

    /// <summary>Adds one step's gradient into the hub's pending gradient (the hub runs after all its steps).</summary>
    private sealed class StepBackward(Tensor hub, HubBackward hubNode, int offset) : Node(hub)
    {
        protected internal override void Backward(Tensor gy)
        {
            var pending = hubNode.PendingGrad ??= Tensor.Zeros(hubNode.Shape, hubNode.DType);
            var g = gy.Contiguous();
            if (g.DType == DType.Float32)
            {
                var dst = pending.F.Slice(offset, g.Length);
                TensorPrimitives.Add(dst, g.F, dst);
            }
            else
            {
                var dst = pending.D.Slice(offset, g.Length);
                TensorPrimitives.Add(dst, g.D, dst);
            }
        }
    }
}
