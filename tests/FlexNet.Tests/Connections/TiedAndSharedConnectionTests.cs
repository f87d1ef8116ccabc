using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>Tied and shared connections against sums written here: a tied decoder y = x·W + b with the partner's
/// W [out, in], from a [2, 2] source into a [2, 2] target; its messages for a source or target of the wrong size and a
/// partner in no network; a shared connection built before its partner's own target (it builds the partner) and its
/// message for another input shape (session 12: survivors of the Connections run).</summary>
public sealed class TiedAndSharedConnectionTests
{
    [Fact]
    public void ATiedDecoderMultipliesByThePartnersWeightAndReshapesIntoItsTarget()
    {
        var net = new Network("t", DType.Float64, 3);
        var x = new InputLayer(4, name: "x");
        var enc = new Layer([2, 2], name: "enc");
        var dec = new Layer([2, 2], name: "dec");
        var d = net.ConnectDense(x, enc, bias: false);
        var tied = net.Connect(new TiedConnection(enc, dec, d));
        net.AddOutput(dec);
        net.Compile();
        Assert.Equal("tied(x->enc)", tied.Kind);
        using (Autograd.NoGrad()) tied.Bias!.CopyFrom(Tensor.FromArray(new double[] { 0.5, -1, 0.25, 2 }, 4));
        var xs = new double[] { 1, -2, 0.5, 3, 0.25, 1, -1, 2 };
        var got = ConnectionMutationGapTests2.Run(net, Tensor.FromArray(xs, 2, 4));
        Assert.Equal([1, 2, 2, 2], got.ShapeArray);
        var w = d.Weight.ToDoubleArray(); // [4 out, 4 in]
        var b = tied.Bias!.ToDoubleArray();
        var g = got.ToDoubleArray();
        for (int n = 0; n < 2; n++)
        {
            var h = new double[4];
            for (int o = 0; o < 4; o++)
                for (int i = 0; i < 4; i++) h[o] += w[o * 4 + i] * xs[n * 4 + i];
            for (int i = 0; i < 4; i++)
            {
                double want = b[i];
                for (int o = 0; o < 4; o++) want += h[o] * w[o * 4 + i];
                Assert.Equal(want, g[n * 4 + i], 1e-12);
            }
        }
    }

    [Fact]
    public void ATiedConnectionNamesASourceOrTargetOfTheWrongSizeAndAPartnerOutsideItsNetwork()
    {
        var net = new Network("t", DType.Float64);
        var x = new InputLayer(4, name: "x");
        var enc = new Layer(3, name: "enc");
        var other = new Layer(2, name: "other");
        var dec = new Layer(4, name: "dec");
        var d = net.ConnectDense(x, enc);
        net.ConnectDense(x, other);
        net.Connect(new TiedConnection(other, dec, d));
        net.AddOutput(dec);
        var e = Assert.Throws<ShapeMismatchException>(() => net.Compile());
        Assert.EndsWith(": the source has 2 features but partner 'x->enc' produces 3 (weight [3, 4]).", e.Message);

        var net2 = new Network("t2", DType.Float64);
        var x2 = new InputLayer(4, name: "x");
        var enc2 = new Layer(3, name: "enc");
        var dec2 = new Layer(5, name: "dec");
        var d2 = net2.ConnectDense(x2, enc2);
        net2.Connect(new TiedConnection(enc2, dec2, d2));
        net2.AddOutput(dec2);
        e = Assert.Throws<ShapeMismatchException>(() => net2.Compile());
        Assert.EndsWith(": partner 'x->enc' (weight [3, 4]) maps back to 4 features, the target has [5].", e.Message);

        // a partner of another network that was never built
        var loose = new DenseConnection(new InputLayer(4, name: "lx"), new Layer(3, name: "ly"));
        var net3 = new Network("t3", DType.Float64);
        var x3 = new InputLayer(3, name: "x");
        var dec3 = new Layer(4, name: "dec");
        net3.Connect(new TiedConnection(x3, dec3, loose, name: "tie"));
        net3.AddOutput(dec3);
        var g = Assert.Throws<GraphException>(() => net3.Compile());
        Assert.Equal("Tied connection 'tie' ('x' → 'dec'): its partner ('lx' → 'ly') is not built; it must belong to the same network and come before the tied layer.", g.Message);
    }

    [Fact]
    public void ASharedConnectionBuiltFirstBuildsItsPartnerAndRefusesAnotherInputShape()
    {
        var net = new Network("s", DType.Float64, 4);
        var x = new InputLayer(3, name: "x");
        var b = new Layer(2, name: "b");
        var a = new Layer(2, name: "a");
        net.Add(x);
        net.Add(b); // b comes before a in the build order: the shared connection into b builds the partner x->a
        net.Add(a);
        var partner = net.ConnectDense(x, a);
        var shared = net.Connect(new SharedConnection(partner, x, b));
        net.AddOutput(a);
        net.AddOutput(b);
        net.Compile();
        Assert.Equal("shared(x->a)", shared.Kind);
        var xs = new double[] { 0.5, -1, 2 };
        Tensor[] outs;
        using (Autograd.NoGrad()) outs = net.Forward(Tensor.FromArray(xs, 1, 3));
        var w = partner.Weight.ToDoubleArray();
        var bias = partner.Bias!.ToDoubleArray();
        for (int o = 0; o < 2; o++)
        {
            double want = bias[o];
            for (int i = 0; i < 3; i++) want += w[o * 3 + i] * xs[i];
            Assert.Equal(want, outs[0].ToDoubleArray()[o], 1e-12);
            Assert.Equal(want, outs[1].ToDoubleArray()[o], 1e-12);
        }

        var bad = new Network("bad", DType.Float64);
        var x1 = new InputLayer(3, name: "x");
        var z = new InputLayer(4, name: "z");
        var a1 = new Layer(2, name: "a");
        var b1 = new Layer(2, name: "b");
        var p1 = bad.ConnectDense(x1, a1);
        bad.Connect(new SharedConnection(p1, z, b1));
        bad.AddOutput(b1);
        var e = Assert.Throws<ShapeMismatchException>(() => bad.Compile());
        Assert.EndsWith(": the shared layer was first applied to inputs of shape [3] (connection 'x->a'); a shared layer needs the same input shape every time.", e.Message);
    }
}
