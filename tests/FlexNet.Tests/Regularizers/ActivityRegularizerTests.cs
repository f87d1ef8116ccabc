using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Regularizers;

/// <summary>hidden_l1 and contractive see the hidden layers of every kind of network (issue 9, item 6).</summary>
public sealed class ActivityRegularizerTests
{
    private const int In = 4, Hidden = 5, Out = 3, N = 6;

    /// <summary>The same 4-5-3 tanh MLP built by every front end, as something the trainer trains.</summary>
    private static IEnumerable<(string Name, IMultiTrainable Model, Network Net)> FrontEnds()
    {
        var seq = new Sequential("seq", DType.Float64, 1, new Dense(Hidden, "tanh", name: "h"), new Dense(Out, name: "y")) { InputShape = [In] };
        yield return ("sequential", seq.AsTrainable(), seq.Network);
        var x = Input(In);
        var fun = new Model(x, new Dense(Out, name: "y").Call(new Dense(Hidden, "tanh", name: "h").Call(x)), "fun", DType.Float64, 2);
        yield return ("functional", fun.AsTrainable(), fun.Network);
        var spec = new Regressor(DataKind.Feedforward, DType.Float64, In, (Hidden, "tanh"), (Out, "linear"));
        yield return ("spec", spec.AsTrainable(), spec.Network);
        var net = new Network("connect", DType.Float64, 3);
        var xi = net.Add(new InputLayer(In, name: "x"));
        var h = net.Add(new Layer(Hidden, "tanh", name: "h"));
        var y = net.Add(new Layer(Out, name: "y"));
        net.ConnectDense(xi, h);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        yield return ("connect", net.AsTrainable(), net);
    }

    private static double FirstStepLoss(IMultiTrainable model, Tensor x, Tensor y, params Regularizer[] regs)
    {
        double loss = double.NaN;
        var o = new TrainerOptions
        {
            Loss = new MeanSquaredError(), Optimizer = new Sgd(1e-9), Epochs = 1, BatchSize = N, Shuffle = false,
            Progress = ProgressMode.None, Regularizers = [.. regs],
        };
        o.OnBatchEnd = info => loss = info.Loss;
        new Trainer(model, o).Fit([x], [y]);
        return loss;
    }

    /// <summary>mean |tanh(x·W1ᵀ + b1)| computed with plain loops from the network's own weights.</summary>
    private static double HandHiddenL1(Network net, double[] x)
    {
        var dense = net.Connections.First(c => c.To.Name.StartsWith("h", StringComparison.Ordinal) && c.Parameters.Count > 0);
        var w = dense.Parameters[0].ToDoubleArray();
        var b = dense.Parameters[1].ToDoubleArray();
        double sum = 0;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < Hidden; j++)
            {
                double a = b[j];
                for (int i = 0; i < In; i++) a += w[j * In + i] * x[n * In + i];
                sum += Math.Abs(Math.Tanh(a));
            }
        return sum / (N * Hidden);
    }

    [Fact]
    public void HiddenL1ChangesTheLossOfEveryFrontEndByTheHandComputedPenalty()
    {
        var x = T.Rand(1, N, In).Detach();
        var y = T.Rand(2, N, Out).Detach();
        foreach (var (name, model, net) in FrontEnds())
        {
            double plain = FirstStepLoss(model, x, y);
            double expected = HandHiddenL1(net, x.ToDoubleArray());
            double withL1 = FirstStepLoss(model, x, y, new HiddenL1 { Weight = 100 });
            Assert.True(Math.Abs(withL1 - plain - 100 * expected) < 1e-6, $"{name}: loss {plain} -> {withL1}, expected +{100 * expected}");
            var acts = net.Activations;
            Assert.Single(acts); // the hidden layer only: not the input, not the output
            Assert.Equal([N, Hidden], acts[0].Value.Shape.ToArray());
        }
    }

    [Fact]
    public void HiddenL1GradientMatchesFiniteDifferences()
    {
        foreach (var (name, _, net) in FrontEnds())
        {
            net.RecordActivations = true;
            var x = T.Rand(5, N, In).Detach();
            var w = net.Connections.First(c => c.To.Name.StartsWith("h", StringComparison.Ordinal) && c.Parameters.Count > 0).Parameters[0];
            double Penalty()
            {
                _ = net.Forward([x], training: true);
                var ctx = new RegularizationContext([.. net.Parameters], net.Activations, [x]);
                return new HiddenL1().Penalty(ctx)!.ToDoubleArray()[0];
            }
            net.ZeroGrad();
            _ = net.Forward([x], training: true);
            new HiddenL1().Penalty(new RegularizationContext([.. net.Parameters], net.Activations, [x]))!.Backward();
            var g = w.Grad!.ToDoubleArray();
            for (int k = 0; k < w.Length; k += 3)
            {
                double old = w.GetFlat(w.Offset + k);
                const double h = 1e-6;
                w.SetFlat(w.Offset + k, old + h);
                double up = Penalty();
                w.SetFlat(w.Offset + k, old - h);
                double down = Penalty();
                w.SetFlat(w.Offset + k, old);
                double numeric = (up - down) / (2 * h);
                Assert.True(Math.Abs(numeric - g[k]) <= 1e-6 * Math.Max(1, Math.Abs(numeric)), $"{name}: d/dW[{k}] analytic {g[k]} vs numeric {numeric}");
            }
        }
    }

    [Fact]
    public void ContractiveWorksOnAnAutoencoderAndMatchesTheFormula()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, In, (Hidden, "sigmoid"), (In, "linear"));
        var net = ae.Network;
        var x = T.Rand(9, N, In).Detach();
        var hidden = net.Plan is null ? null : (string?)null;
        net.RecordActivations = true;
        _ = net.Forward([x], training: true);
        var (hName, h) = Assert.Single(net.Activations);
        var wName = net.NamedParameters.First(p => p.Value.Rank == 2 && p.Value.Shape[0] == Hidden).Name;
        var wv = net.NamedParameters.First(p => p.Name == wName).Value.ToDoubleArray();
        var hv = h.ToDoubleArray();
        double expected = 0;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < Hidden; j++)
            {
                double d = hv[n * Hidden + j] * (1 - hv[n * Hidden + j]), col = 0;
                for (int i = 0; i < In; i++) col += wv[j * In + i] * wv[j * In + i];
                expected += d * d * col;
            }
        expected /= N;
        double plain = FirstStepLoss(ae.AsTrainable(), x, x);
        double with = FirstStepLoss(ae.AsTrainable(), x, x, new Contractive(hName, wName) { Weight = 10 });
        Assert.True(Math.Abs(with - plain - 10 * expected) < 1e-6, $"contractive: {plain} -> {with}, expected +{10 * expected}");
        Assert.Null(hidden);
    }

    [Fact]
    public void AnActivityRegularizerThatMatchesNothingIsAnError()
    {
        var (_, model, _) = FrontEnds().First();
        var x = T.Rand(1, N, In).Detach();
        var y = T.Rand(2, N, Out).Detach();
        var e = Assert.Throws<ArgumentException>(() => FirstStepLoss(model, x, y, new HiddenL1 { Pattern = "nothing*" }));
        Assert.Contains("hidden_l1", e.Message);
        Assert.Contains("exposes: h", e.Message);
    }
}
