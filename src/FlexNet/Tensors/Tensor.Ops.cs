using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;

namespace FlexNet.Tensors;

public sealed partial class Tensor
{
    /// <summary>Elementwise a + b with NumPy broadcasting.</summary>
    /// <param name="a">Left operand.</param>
    /// <param name="b">Right operand, broadcastable with <paramref name="a"/>.</param>
    /// <returns>A tensor of the broadcast shape.</returns>
    public static Tensor operator +(Tensor a, Tensor b) => Binary.Apply(a, b, Binary.Kind.Add);

    /// <summary>Elementwise a − b with broadcasting.</summary>
    /// <param name="a">Left operand.</param>
    /// <param name="b">Right operand.</param>
    /// <returns>A tensor of the broadcast shape.</returns>
    public static Tensor operator -(Tensor a, Tensor b) => Binary.Apply(a, b, Binary.Kind.Sub);

    /// <summary>Elementwise a ⊙ b with broadcasting.</summary>
    /// <param name="a">Left operand.</param>
    /// <param name="b">Right operand.</param>
    /// <returns>A tensor of the broadcast shape.</returns>
    public static Tensor operator *(Tensor a, Tensor b) => Binary.Apply(a, b, Binary.Kind.Mul);

    /// <summary>Elementwise a / b with broadcasting.</summary>
    /// <param name="a">Left operand.</param>
    /// <param name="b">Right operand.</param>
    /// <returns>A tensor of the broadcast shape.</returns>
    public static Tensor operator /(Tensor a, Tensor b) => Binary.Apply(a, b, Binary.Kind.Div);

    /// <summary>Elementwise −x.</summary>
    /// <param name="x">Operand.</param>
    /// <returns>The negation.</returns>
    public static Tensor operator -(Tensor x) => Unary.Apply(x, Unary.Kind.Neg);

    /// <summary>x + s for a scalar s.</summary>
    /// <param name="x">Tensor.</param>
    /// <param name="s">Scalar.</param>
    /// <returns>The sum.</returns>
    public static Tensor operator +(Tensor x, double s) => Unary.Apply(x, Unary.Kind.AddScalar, s);

    /// <summary>s + x for a scalar s.</summary>
    /// <param name="s">Scalar.</param>
    /// <param name="x">Tensor.</param>
    /// <returns>The sum.</returns>
    public static Tensor operator +(double s, Tensor x) => Unary.Apply(x, Unary.Kind.AddScalar, s);

    /// <summary>x − s for a scalar s.</summary>
    /// <param name="x">Tensor.</param>
    /// <param name="s">Scalar.</param>
    /// <returns>The difference.</returns>
    public static Tensor operator -(Tensor x, double s) => Unary.Apply(x, Unary.Kind.AddScalar, -s);

    /// <summary>s − x for a scalar s.</summary>
    /// <param name="s">Scalar.</param>
    /// <param name="x">Tensor.</param>
    /// <returns>The difference.</returns>
    public static Tensor operator -(double s, Tensor x) => Unary.Apply(Unary.Neg(x), Unary.Kind.AddScalar, s);

    /// <summary>x · s for a scalar s.</summary>
    /// <param name="x">Tensor.</param>
    /// <param name="s">Scalar.</param>
    /// <returns>The product.</returns>
    public static Tensor operator *(Tensor x, double s) => Unary.Apply(x, Unary.Kind.MulScalar, s);

    /// <summary>s · x for a scalar s.</summary>
    /// <param name="s">Scalar.</param>
    /// <param name="x">Tensor.</param>
    /// <returns>The product.</returns>
    public static Tensor operator *(double s, Tensor x) => Unary.Apply(x, Unary.Kind.MulScalar, s);

    /// <summary>x / s for a scalar s.</summary>
    /// <param name="x">Tensor.</param>
    /// <param name="s">Scalar.</param>
    /// <returns>The quotient.</returns>
    public static Tensor operator /(Tensor x, double s) => Unary.Apply(x, Unary.Kind.MulScalar, 1.0 / s);

    /// <summary>Elementwise max(a, b) with broadcasting; the gradient goes to the larger operand (split on ties).</summary>
    /// <param name="other">Other operand.</param>
    /// <returns>The elementwise maximum.</returns>
    public Tensor Maximum(Tensor other) => Binary.Apply(this, other, Binary.Kind.Max);

    /// <summary>Elementwise min(a, b) with broadcasting.</summary>
    /// <param name="other">Other operand.</param>
    /// <returns>The elementwise minimum.</returns>
    public Tensor Minimum(Tensor other) => Binary.Apply(this, other, Binary.Kind.Min);

    /// <summary>eˣ elementwise.</summary>
    /// <returns>exp(x).</returns>
    public Tensor Exp() => Unary.Apply(this, Unary.Kind.Exp);

    /// <summary>Natural logarithm elementwise.</summary>
    /// <returns>ln(x).</returns>
    public Tensor Log() => Unary.Apply(this, Unary.Kind.Log);

    /// <summary>Square root elementwise.</summary>
    /// <returns>√x.</returns>
    public Tensor Sqrt() => Unary.Apply(this, Unary.Kind.Sqrt);

    /// <summary>Absolute value elementwise (gradient sign(x), 0 at 0).</summary>
    /// <returns>|x|.</returns>
    public Tensor Abs() => Unary.Apply(this, Unary.Kind.Abs);

    /// <summary>x² elementwise.</summary>
    /// <returns>x².</returns>
    public Tensor Square() => Unary.Apply(this, Unary.Kind.Square);

    /// <summary>xᵖ elementwise.</summary>
    /// <param name="p">Exponent.</param>
    /// <returns>xᵖ.</returns>
    public Tensor Pow(double p) => Unary.Apply(this, Unary.Kind.PowScalar, p);

    /// <summary>Hyperbolic tangent elementwise.</summary>
    /// <returns>tanh(x).</returns>
    public Tensor Tanh() => Unary.Apply(this, Unary.Kind.Tanh);

    /// <summary>Logistic sigmoid 1/(1+e⁻ˣ) elementwise.</summary>
    /// <returns>σ(x).</returns>
    public Tensor Sigmoid() => Unary.Apply(this, Unary.Kind.Sigmoid);

    /// <summary>max(x, 0) elementwise (gradient 0 at 0).</summary>
    /// <returns>relu(x).</returns>
    public Tensor Relu() => Unary.Apply(this, Unary.Kind.Relu);

    /// <summary>x for x &gt; 0, slope·x otherwise.</summary>
    /// <param name="slope">Negative-side slope.</param>
    /// <returns>leaky_relu(x).</returns>
    public Tensor LeakyRelu(double slope = 0.01) => Unary.Apply(this, Unary.Kind.LeakyRelu, slope);

    /// <summary>x for x &gt; 0, α(eˣ − 1) otherwise.</summary>
    /// <param name="alpha">Scale of the negative side.</param>
    /// <returns>elu(x).</returns>
    public Tensor Elu(double alpha = 1) => Unary.Apply(this, Unary.Kind.Elu, alpha);

    /// <summary>ln(1 + eˣ), computed stably as max(x,0) + ln(1 + e^−|x|).</summary>
    /// <returns>softplus(x).</returns>
    public Tensor Softplus() => Unary.Apply(this, Unary.Kind.Softplus);

    /// <summary>x / (1 + |x|).</summary>
    /// <returns>softsign(x).</returns>
    public Tensor Softsign() => Unary.Apply(this, Unary.Kind.Softsign);

    /// <summary>min(max(x, lo), hi); the gradient is 1 on [lo, hi] and 0 outside.</summary>
    /// <param name="lo">Lower bound.</param>
    /// <param name="hi">Upper bound.</param>
    /// <returns>The clipped tensor.</returns>
    public Tensor Clip(double lo, double hi)
    {
        if (lo > hi) throw new ArgumentException($"Clip: lo ({lo}) must not exceed hi ({hi}).");
        return Unary.Apply(this, Unary.Kind.Clip, lo, hi);
    }

    /// <summary>Selects <paramref name="a"/> where <paramref name="condition"/> is non-zero, else <paramref name="b"/> (all broadcast).</summary>
    /// <param name="condition">Mask of any dtype.</param>
    /// <param name="a">Values where true.</param>
    /// <param name="b">Values where false.</param>
    /// <returns>The selection.</returns>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Unary.Where(condition, a, b);

    /// <summary>Sum over the given axes (all axes when none).</summary>
    /// <param name="axes">Axes to reduce; negative values count from the end.</param>
    /// <returns>The reduced tensor (reduced axes removed).</returns>
    public Tensor Sum(params int[] axes) => Reduce.Sum(this, axes, false);

    /// <summary>Sum over the given axes, optionally keeping them with size 1.</summary>
    /// <param name="axes">Axes to reduce (null: all).</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    /// <returns>The reduced tensor.</returns>
    public Tensor Sum(int[]? axes, bool keepDims) => Reduce.Sum(this, axes, keepDims);

    /// <summary>Mean over the given axes (all axes when none).</summary>
    /// <param name="axes">Axes to reduce.</param>
    /// <returns>The reduced tensor.</returns>
    public Tensor Mean(params int[] axes) => Reduce.Mean(this, axes, false);

    /// <summary>Mean over the given axes, optionally keeping them with size 1.</summary>
    /// <param name="axes">Axes to reduce (null: all).</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    /// <returns>The reduced tensor.</returns>
    public Tensor Mean(int[]? axes, bool keepDims) => Reduce.Mean(this, axes, keepDims);

    /// <summary>Maximum along <paramref name="axis"/>; the gradient flows to the first maximal element.</summary>
    /// <param name="axis">Axis to reduce.</param>
    /// <param name="keepDims">Keep the axis with size 1.</param>
    /// <returns>The maxima.</returns>
    public Tensor Max(int axis, bool keepDims = false) => Reduce.Max(this, axis, keepDims);

    /// <summary>Maximum over all elements.</summary>
    /// <returns>A scalar tensor.</returns>
    public Tensor Max() => Reduce.Max(Reshape(-1), 0, false);

    /// <summary>Index of the maximum along <paramref name="axis"/> (first on ties), as an Int32 tensor.</summary>
    /// <param name="axis">Axis to reduce.</param>
    /// <param name="keepDims">Keep the axis with size 1.</param>
    /// <returns>Indices in [0, size of axis).</returns>
    public Tensor ArgMax(int axis, bool keepDims = false) => Reduce.ArgMax(this, axis, keepDims);

    /// <summary>The same elements with a new shape (a view when contiguous); one dimension may be −1.</summary>
    /// <param name="shape">New dimensions.</param>
    /// <returns>The reshaped tensor.</returns>
    public Tensor Reshape(params int[] shape) => Movement.Reshape(this, shape);

    /// <summary>Reorders the dimensions (a view): output dimension i is input dimension dims[i].</summary>
    /// <param name="dims">A permutation of 0..Rank-1.</param>
    /// <returns>The permuted view.</returns>
    public Tensor Permute(params int[] dims) => Movement.Permute(this, dims);

    /// <summary>Swaps two dimensions (a view).</summary>
    /// <param name="dim0">First dimension.</param>
    /// <param name="dim1">Second dimension.</param>
    /// <returns>The transposed view.</returns>
    public Tensor Transpose(int dim0 = -2, int dim1 = -1) => Movement.Transpose(this, dim0, dim1);

    /// <summary>The transpose of a matrix (last two dimensions swapped).</summary>
    public Tensor T => Movement.Transpose(this, -2, -1);

    /// <summary>A view of <paramref name="length"/> elements starting at <paramref name="start"/> along <paramref name="axis"/>, every <paramref name="step"/>-th.</summary>
    /// <param name="axis">Axis to slice.</param>
    /// <param name="start">First index (negative counts from the end).</param>
    /// <param name="length">Number of elements kept.</param>
    /// <param name="step">Stride, positive.</param>
    /// <returns>The sliced view.</returns>
    public Tensor Slice(int axis, int start, int length, int step = 1) => Movement.Slice(this, axis, start, length, step);

    /// <summary>Broadcasts to a larger shape without copying (stride-0 view).</summary>
    /// <param name="shape">Target shape.</param>
    /// <returns>The expanded view.</returns>
    public Tensor Expand(params int[] shape) => Movement.Expand(this, shape);

    /// <summary>Inserts a dimension of size 1 at <paramref name="axis"/>.</summary>
    /// <param name="axis">Position of the new axis.</param>
    /// <returns>The reshaped view.</returns>
    public Tensor Unsqueeze(int axis) => Movement.Unsqueeze(this, axis);

    /// <summary>Removes the size-1 dimension <paramref name="axis"/>.</summary>
    /// <param name="axis">Axis of size 1.</param>
    /// <returns>The reshaped view.</returns>
    public Tensor Squeeze(int axis) => Movement.Squeeze(this, axis);

    /// <summary>Flattens all dimensions from <paramref name="startAxis"/> on into one.</summary>
    /// <param name="startAxis">First flattened axis (default 1: keep the batch axis).</param>
    /// <returns>The flattened tensor.</returns>
    public Tensor Flatten(int startAxis = 1)
    {
        startAxis = ShapeUtil.NormalizeAxis(startAxis, Rank, "Flatten");
        var s = new int[startAxis + 1];
        for (int d = 0; d < startAxis; d++) s[d] = _shape[d];
        // the product of the flattened axes, not −1: an empty tensor keeps them ([0, 3, 1] → [0, 3], as in PyTorch)
        long rest = 1;
        for (int d = startAxis; d < Rank; d++) rest = Math.Min(rest * _shape[d], (long)int.MaxValue + 1);
        if (rest > int.MaxValue)
            throw new ShapeMismatchException($"Flatten: axes {startAxis} on of {ShapeUtil.Format(_shape)} hold more than {int.MaxValue} elements.");
        s[startAxis] = (int)rest;
        return Reshape(s);
    }

    /// <summary>Constant padding; <paramref name="pads"/> = (before, after) for every dimension, outermost first.</summary>
    /// <param name="pads">2·Rank non-negative amounts.</param>
    /// <param name="value">Fill value.</param>
    /// <returns>The padded tensor.</returns>
    public Tensor Pad(int[] pads, double value = 0) => Movement.Pad(this, pads, value);

    /// <summary>Joins tensors along an existing axis.</summary>
    /// <param name="tensors">Tensors equal in every other dimension.</param>
    /// <param name="axis">Axis to join.</param>
    /// <returns>The concatenation.</returns>
    public static Tensor Concat(ReadOnlySpan<Tensor> tensors, int axis = 0) => Movement.Concat(tensors, axis);

    /// <summary>Joins equally shaped tensors along a new axis.</summary>
    /// <param name="tensors">Tensors of identical shape.</param>
    /// <param name="axis">Position of the new axis.</param>
    /// <returns>The stacked tensor.</returns>
    public static Tensor Stack(ReadOnlySpan<Tensor> tensors, int axis = 0) => Movement.Stack(tensors, axis);

    /// <summary>Splits along <paramref name="axis"/> into pieces of the given sizes (views).</summary>
    /// <param name="sizes">Sizes summing to the axis length.</param>
    /// <param name="axis">Axis to split.</param>
    /// <returns>The pieces.</returns>
    public Tensor[] Split(int[] sizes, int axis = 0) => Movement.Split(this, sizes, axis);

    /// <summary>Splits along <paramref name="axis"/> into <paramref name="chunks"/> equal pieces.</summary>
    /// <param name="chunks">Number of pieces; must divide the axis length.</param>
    /// <param name="axis">Axis to split.</param>
    /// <returns>The pieces.</returns>
    public Tensor[] Chunk(int chunks, int axis = 0)
    {
        int size = Size(axis);
        if (chunks <= 0 || size % chunks != 0)
            throw new ShapeMismatchException($"Chunk: axis {axis} of {ShapeUtil.Format(Shape)} (size {size}) does not split into {chunks} equal chunks.");
        var sizes = new int[chunks];
        Array.Fill(sizes, size / chunks);
        return Movement.Split(this, sizes, axis);
    }

    /// <summary>Matrix product with this tensor on the left (see <see cref="NN.MatMul"/>).</summary>
    /// <param name="other">Right operand.</param>
    /// <returns>this · other.</returns>
    public Tensor MatMul(Tensor other) => Autodiff.Ops.MatMul.Apply(this, other);
}
