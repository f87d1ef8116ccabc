using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The checks a network run makes on its inputs, each with its whole message (network, layer, shapes, counts), and
/// the non-finite check, which names the layer, the count and the step. Mutation testing showed none of these
/// messages was asserted.
/// </summary>
public sealed class RunInputCheckTests
{
    /// <summary>q [3] temporal (T = 4), r [2] static, both into h [2] (tanh), output h at every step.</summary>
    private static Network Net(DType dtype = DType.Float64)
    {
        var net = new Network("n7", dtype, seed: 1);
        var q = new InputLayer(3, sequenceLength: 4, name: "q");
        var r = new InputLayer(2, name: "r");
        var h = new Layer(2, "tanh", name: "h");
        net.ConnectDense(q, h);
        net.ConnectDense(r, h, bias: false);
        net.AddOutput(h);
        net.Compile();
        return net;
    }

    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    [Fact]
    public void WrongInputsAreNamed()
    {
        var net = Net();
        var q = Tensor.Zeros([4, 2, 3], DType.Float64);
        var r = Tensor.Zeros([2, 2], DType.Float64);
        Assert.Equal("Network 'n7' has 2 input layer(s) (q, r) but 1 tensor(s) were given.", Fail<ArgumentException>(() => net.Forward(q)));
        Assert.Equal("Input 1 ('r') is null. (Parameter 'inputs')", Fail<ArgumentNullException>(() => net.Forward(q, null!)));
        Assert.Equal("Network 'n7': input layer 'q' expects [T, N, 3], got [4, 2, 4].", Fail<ShapeMismatchException>(() => net.Forward(Tensor.Zeros([4, 2, 4], DType.Float64), r)));
        Assert.Equal("Network 'n7': input layer 'q' expects [T, N, 3], got [2, 3].", Fail<ShapeMismatchException>(() => net.Forward(Tensor.Zeros([2, 3], DType.Float64), r)));
        Assert.Equal("Network 'n7': input layer 'r' expects [N, 2], got [2, 2, 2].", Fail<ShapeMismatchException>(() => net.Forward(q, Tensor.Zeros([2, 2, 2], DType.Float64))));
        Assert.Equal("Network 'n7': input 'r' is Float32 but the network is Float64; convert with To(Float64).", Fail<ArgumentException>(() => net.Forward(q, Tensor.Zeros([2, 2]))));
        Assert.Equal("Network 'n7': input 'r' has batch size 3, an earlier input has 2 (shape [3, 2]).",
            Fail<ShapeMismatchException>(() => net.Forward(q, Tensor.Zeros([3, 2], DType.Float64))));
        Assert.Equal("Network 'n7': steps = 5 but the temporal inputs have 4 steps.", Fail<ArgumentException>(() => net.Forward([q, r], training: false, steps: 5)));
        Assert.Equal("Network 'n7': the mask must be [T, N] = [4, 2], got [4, 3].",
            Fail<ShapeMismatchException>(() => net.Forward([q, r], training: false, mask: Tensor.Ones([4, 3], DType.Float64))));
        Assert.Equal("Network 'n7': the mask must be [T, N] = [4, 2], got [3, 2].",
            Fail<ShapeMismatchException>(() => net.Forward([q, r], training: false, mask: Tensor.Ones([3, 2], DType.Float64))));
        Assert.Equal("Network 'n7': the mask must be [T, N] = [4, 2], got [8].",
            Fail<ShapeMismatchException>(() => net.Forward([q, r], training: false, mask: Tensor.Ones([8], DType.Float64))));
        // matching steps are accepted, and so is a mask in another dtype that records gradients
        Assert.Equal([4, 2, 2], net.Forward([q, r], training: false, steps: 4)[0].Shape.ToArray());
        var m32 = Tensor.Ones([4, 2]).RequireGrad();
        Assert.Equal([4, 2, 2], net.Forward([q, r], training: false, mask: m32)[0].Shape.ToArray());
    }

    [Fact]
    public void TwoTemporalInputsMustAgreeOnSteps()
    {
        var net = new Network("two", DType.Float64, seed: 2);
        var a = new InputLayer(1, sequenceLength: 3, name: "a");
        var b = new InputLayer(1, sequenceLength: 3, name: "b");
        var h = new Layer(1, name: "h");
        net.ConnectDense(a, h);
        net.ConnectDense(b, h);
        net.AddOutput(h);
        net.Compile();
        Assert.Equal("Network 'two': temporal input 'b' has 2 steps, an earlier one has 3 (shape [2, 1, 1]).",
            Fail<ShapeMismatchException>(() => net.Forward(Tensor.Zeros([3, 1, 1], DType.Float64), Tensor.Zeros([2, 1, 1], DType.Float64))));
    }

    [Fact]
    public void StepsMustBePositive()
    {
        var net = new Network("s", DType.Float64, seed: 3);
        var x = new InputLayer(1, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectDense(x, h);
        net.AddOutput(h);
        net.Compile();
        Assert.Equal("Network 's': the number of steps must be positive; got 0.",
            Fail<ArgumentException>(() => net.Forward([Tensor.Zeros([2, 1], DType.Float64)], training: false, steps: 0)));
        Assert.Equal([3, 2, 1], net.Forward([Tensor.Zeros([2, 1], DType.Float64)], training: false, steps: 3)[0].Shape.ToArray());
        Assert.Equal([1, 2, 1], net.Forward([Tensor.Zeros([2, 1], DType.Float64)], training: false, steps: 1)[0].Shape.ToArray());
    }

    [Fact]
    public void NonFiniteOutputsAreLocatedWhenCheckFiniteIsOn()
    {
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var net = Net(dtype);
            var q = Tensor.Zeros([4, 2, 3], dtype);
            q[2, 1, 0] = double.NaN; // sample 1 at step 2
            var r = Tensor.Zeros([2, 2], dtype);
            Assert.True(double.IsNaN(net.Forward(q, r)[0][2, 1, 0])); // off: the NaN just flows
            net.CheckFinite = true;
            // the input layer is checked like any other: the first non-finite output is q's own, at step 2
            Assert.Equal("layer 'q' produced 1 non-finite values (output [2, 3]) in phase 'forward' at time step 2.",
                Fail<NonFiniteValueException>(() => net.Forward(q, r)));
            q[2, 1, 0] = 0;
            Assert.Equal([4, 2, 2], net.Forward(q, r)[0].Shape.ToArray());
        }
    }
}
