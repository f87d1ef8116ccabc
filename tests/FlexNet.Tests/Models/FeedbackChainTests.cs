using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Models;

public sealed class FeedbackChainTests
{
    /// <summary>merge = x + F·h[s2] (previous step), a = tanh(W1 merge + b1), s1 = a, b = tanh(W2 a + b2), s2 = b, y = W3 b + b3.</summary>
    private static FeedbackChain Mlp() => new("mlpfb", [6], DType.Float64, 3,
        Chain.Merger("s2", (f, t, d) => new DenseConnection(f, t, d)),
        Chain.Dense(5, "tanh"),
        Chain.Splitter("s1"),
        Chain.Dense(4, "tanh"),
        Chain.Splitter("s2"),
        Chain.Dense(3));

    private static Tensor Lin(DenseConnection c, Tensor x) => NN.Linear(x, c.Weight, c.Bias);

    [Fact]
    public void ChainStepsFollowTheFeedbackNetsEquations()
    {
        var chain = Mlp();
        var dense = chain.Network.Connections.OfType<DenseConnection>().ToArray();
        // connections in build order: input->merge is identity; then dense1, dense2, dense3, finally the feedback F
        Assert.Equal(4, dense.Length);
        var (w1, w2, w3, f) = (dense[0], dense[1], dense[2], dense[3]);
        Assert.Equal(1, f.Delay);
        Assert.Same(chain.Splits["s2"], f.From);
        Assert.Equal(["s1", "s2"], chain.SplitNames.Order().ToArray());

        var x = T.Rand(5, 2, 6).Detach();
        var h2 = Tensor.Zeros([2, 4], DType.Float64);
        var expected = new List<double[]>();
        for (int t = 0; t < 3; t++)
        {
            var a = Lin(w1, x + Lin(f, h2)).Tanh();
            var b = Lin(w2, a).Tanh();
            expected.Add(Lin(w3, b).ToDoubleArray());
            h2 = b;
        }
        // functional form (state, x) -> (state', y)
        IReadOnlyDictionary<string, Tensor> state = chain.ZeroState(2);
        for (int t = 0; t < 3; t++)
        {
            var (next, y) = chain.Step(state, x);
            T.Close(expected[t], y.ToDoubleArray(), 1e-13, 1e-14, $"Step {t}");
            state = next;
        }
        T.Close(h2.ToDoubleArray(), state["s2"].ToDoubleArray(), 1e-13, 1e-14, "state s2");
        // the unrolled network
        T.Close(expected[2], chain.Forward(x, 3).ToDoubleArray(), 1e-13, 1e-14, "Forward(3 steps)");
        // stateful wrapper with reset
        var sf = chain.Stateful();
        for (int t = 0; t < 3; t++) T.Close(expected[t], sf.Call(x).ToDoubleArray(), 1e-13, 1e-14, $"stateful {t}");
        sf.Reset();
        T.Close(expected[0], sf.Call(x).ToDoubleArray(), 1e-13, 1e-14, "after reset");
    }

    [Fact]
    public void ChainBuildsTheSameGraphAsConnect()
    {
        var chain = Mlp();
        var net = new Network("manual", DType.Float64, 3);
        var input = new InputLayer(6, name: "in");
        var merge = new Layer(6, name: "merge");
        var a = new Layer(5, "tanh", name: "a");
        var b = new Layer(4, "tanh", name: "b");
        var y = new Layer(3, name: "y");
        net.ConnectIdentity(input, merge);
        net.Connect(merge, a);
        net.Connect(a, b);
        net.Connect(b, y);
        net.ConnectDense(b, merge, delay: 1);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        string Shape(Network n) => string.Join("; ", n.Connections.Select(c =>
            $"{c.Kind} {string.Join("x", c.SourceShape!)}->{string.Join("x", c.OutputShape!)} d{c.Delay}"));
        Assert.Equal(Shape(net), Shape(chain.Network));
        foreach (var (p, q) in net.Parameters.Zip(chain.Parameters)) p.CopyFrom(q);
        var x = T.Rand(6, 3, 6).Detach();
        T.Close(chain.Forward(x, 4).ToDoubleArray(), net.Forward([x], false, steps: 4)[0].ToDoubleArray(), 1e-14, 1e-15, "chain vs Connect");
    }

    [Fact]
    public void TreeContinuesFromThePreviousStepsValue()
    {
        var tree = new FeedbackTree("tree", [3], DType.Float64, 1, Chain.Dense(4, "tanh"), Chain.Splitter("f1"), Chain.Dense(2));
        var chain = new FeedbackChain("chain", [3], DType.Float64, 1, Chain.Dense(4, "tanh"), Chain.Splitter("f1"), Chain.Dense(2));
        var lt = tree.Network.Connections.OfType<DenseConnection>().ToArray();
        var lc = chain.Network.Connections.OfType<DenseConnection>().ToArray();
        for (int i = 0; i < 2; i++) { lc[i].Weight.CopyFrom(lt[i].Weight); lc[i].Bias!.CopyFrom(lt[i].Bias!); }
        var x = T.Rand(7, 2, 3).Detach();
        var l1x = Lin(lt[0], x).Tanh();
        var l2l1x = Lin(lt[1], l1x).ToDoubleArray();
        // chain: y = l2(l1(x)) at once; tree: y = l2(h["f1"]) = l2(0) at step 1, l2(l1(x)) at step 2
        var (_, yc) = chain.Step(chain.ZeroState(2), x);
        T.Close(l2l1x, yc.ToDoubleArray(), 1e-13, 1e-14, "chain step 1");
        var (s1, yt1) = tree.Step(tree.ZeroState(2), x);
        T.Close(Lin(lt[1], Tensor.Zeros([2, 4], DType.Float64)).ToDoubleArray(), yt1.ToDoubleArray(), 1e-13, 1e-14, "tree step 1");
        var (_, yt2) = tree.Step(s1, x);
        T.Close(l2l1x, yt2.ToDoubleArray(), 1e-13, 1e-14, "tree step 2");
        T.Close(l2l1x, tree.Forward(x, 2).ToDoubleArray(), 1e-13, 1e-14, "tree unrolled 2 steps");
    }

    [Fact]
    public void ConvFeedbackChainPassesGradCheckAndValidatesNames()
    {
        var chain = new FeedbackChain("lenetfb", [1, 8, 8], DType.Float64, 2,
            Chain.Conv2d(3, 3, padding: Padding.Same, activation: "tanh"),
            Chain.Merger("c2", (f, t, d) => new ConvTranspose2dConnection(f, t, 3, stride: 2, padding: 1, delay: d), CombineRule.Sum),
            Chain.Splitter("c1"),
            Chain.MaxPool(2),
            Chain.Conv2d(4, 3, padding: 1, activation: "tanh"),
            Chain.Merger("c1", (f, t, d) => new Conv2dConnection(f, t, 3, stride: 2, padding: 1, delay: d), CombineRule.Product),
            Chain.Splitter("c2"),
            Chain.Flatten(),
            Chain.Dense(2));
        Assert.Equal([4, 4, 4], chain.Splits["c2"].OutputShape!);
        var x = T.RandU(9, 0, 1, 2, 1, 8, 8);
        T.GradOk("conv feedback chain", _ => chain.Forward(x, 3), chain.Parameters.Append(x).ToArray());

        Assert.Throws<GraphException>(() => new FeedbackChain("bad", [3], Chain.Merger("nope", (f, t, d) => new DenseConnection(f, t, d)), Chain.Dense(3)));
        Assert.Throws<GraphException>(() => new FeedbackChain("dup", [3], Chain.Splitter("a"), Chain.Dense(3), Chain.Splitter("a")));
    }
}
