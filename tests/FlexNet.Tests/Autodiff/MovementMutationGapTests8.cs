using System.Reflection;
using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of Ops/Movement.cs and Ops/DenseSum.cs that the older Autodiff tests left open (issue 15, mutation
/// run of session 8): which DenseSum calls record a node, the reuse and clearing of DenseSum's thread-local input list,
/// the range of an empty slice's start, and the op names in axis and broadcast errors. Expected values are written
/// out here.</summary>
public sealed class MovementMutationGapTests8
{
    [Fact]
    public void DenseSumRecordsWhenTwoInputsNeedGradients()
    {
        // y = x1 + x2 (two identity inputs, no bias): both inputs need gradients, so the op is recorded
        var x1 = Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 2, 2).RequireGrad();
        var x2 = Tensor.FromArray([10.0, 20.0, 30.0, 40.0], 2, 2).RequireGrad();
        var y = DenseSum.Apply([x1, x2], [null, null], [], FusedActivation.Linear);
        Assert.True(y.RequiresGrad);
        Assert.Equal([11.0, 22.0, 33.0, 44.0], y.ToDoubleArray());
        y.Backward(Tensor.FromArray([0.5, -1.0, 2.0, 0.25], 2, 2));
        Assert.Equal([0.5, -1.0, 2.0, 0.25], x1.Grad!.ToDoubleArray());
        Assert.Equal([0.5, -1.0, 2.0, 0.25], x2.Grad!.ToDoubleArray());
    }

    [Fact]
    public void DenseSumReusesAnInputListOfExactlyItsCountAndClearsIt()
    {
        // two inputs and one bias: the node's input list has 2·2 + 1 = 5 entries
        var field = typeof(DenseSum).GetNestedType("DenseSumBackward", BindingFlags.NonPublic)!
            .GetField("t_inputs", BindingFlags.NonPublic | BindingFlags.Static)!;
        var list = new Tensor?[5];
        field.SetValue(null, list);
        var x1 = Tensor.FromArray([1.0, 2.0], 1, 2).RequireGrad();
        var x2 = Tensor.FromArray([3.0, 5.0], 1, 2);
        var b = Tensor.FromArray([0.5, 0.25], 2);
        var y = DenseSum.Apply([x1, x2], [null, null], [b], FusedActivation.Linear);
        Assert.True(y.RequiresGrad);
        Assert.Equal([4.5, 7.25], y.ToDoubleArray());
        Assert.Same(list, field.GetValue(null)); // long enough: no new list
        Assert.All(list, Assert.Null); // no tensor kept alive by the thread's list
        y.Backward(Tensor.FromArray([1.0, -2.0], 1, 2));
        Assert.Equal([1.0, -2.0], x1.Grad!.ToDoubleArray());
    }

    [Fact]
    public void AnEmptySliceMayStartAtTheEnd()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        var atEnd = Movement.Slice(x, 1, 3, 0);
        Assert.Equal([2, 0], atEnd.ShapeArray);
        Assert.Equal(0, atEnd.Length);
        Assert.Equal([2, 0], Movement.Slice(x, 1, 3, 0, step: 2).ShapeArray);
        Assert.Equal([0, 3], Movement.Slice(x, 0, 2, 0).ShapeArray);
        // the last element is still reachable
        Assert.Equal([3.0, 6.0], Movement.Slice(x, 1, 2, 1).Contiguous().ToDoubleArray());
    }

    [Fact]
    public void ASliceMayNotStartPastTheEnd()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        var ex = Assert.Throws<ShapeMismatchException>(() => Movement.Slice(x, 1, 4, 0));
        Assert.Contains("[4, +0 step 1) is out of range for axis 1 of size 3", ex.Message);
        Assert.Throws<ShapeMismatchException>(() => Movement.Slice(x, 0, 3, 0, step: 3));
        Assert.Throws<ShapeMismatchException>(() => Movement.Slice(x, 1, 2, 2)); // one element past the end
    }

    [Theory]
    [InlineData("Concat", "Concat: axis 2 is out of range for rank 2")]
    [InlineData("Stack", "Stack: axis 3 is out of range for rank 3")]
    [InlineData("Split", "Split: axis 2 is out of range for rank 2")]
    [InlineData("Unsqueeze", "Unsqueeze: axis 3 is out of range for rank 3")]
    [InlineData("Squeeze", "Squeeze: axis -3 is out of range for rank 2")]
    public void AxisErrorsNameTheOp(string op, string message)
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        Action call = op switch
        {
            "Concat" => () => Movement.Concat([x, x], 2),
            "Stack" => () => Movement.Stack([x, x], 3),
            "Split" => () => Movement.Split(x, [1, 1], 2),
            "Unsqueeze" => () => Movement.Unsqueeze(x, 3),
            _ => () => Movement.Squeeze(x, -3),
        };
        Assert.Contains(message, Assert.Throws<ArgumentOutOfRangeException>(call).Message);
    }

    [Fact]
    public void ExpandBroadcastErrorNamesTheOp()
    {
        // [2, 3] to [2, 4]: dimension 1 neither matches nor is 1
        var x = Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        Assert.Contains("Expand: shapes [2, 3] and [2, 4] cannot be broadcast together",
            Assert.Throws<ShapeMismatchException>(() => Movement.Expand(x, [2, 4])).Message);
    }
}
