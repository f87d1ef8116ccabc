using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Models;

/// <summary>Saving and loading: weights of any front end, and whole spec models (custom forms by registered name).</summary>
public class SaveLoadTests
{
    private static string TempFile(string name) => Path.Combine(Path.GetTempPath(), $"flexnet-{Environment.ProcessId}-{Guid.NewGuid():N}-{name}.safetensors");

    [Fact]
    public void SpecModelWithCustomFormRoundTrips()
    {
        LayerRegistry.Register("mynobias", "Feedforward without bias (theanets docs example)", ["size (int, required)", "activation"],
                               a => new SpecModelTests.NoBias(a.Int("size"), a.Activation("linear"), a.Name, a.Init()));
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, (3, "mynobias", "linear"), (4, "tied", "linear"));
        var x = T.Rand(1, 5, 4).Detach();
        using (FlexNet.Autodiff.Autograd.NoGrad())
            foreach (var p in ae.Parameters) p.CopyFrom(p + 0.25); // move away from the initial values
        var path = TempFile("ae");
        try
        {
            ae.Save(path);
            var back = Assert.IsType<Autoencoder>(SpecModel.Load(path));
            Assert.Equal(ae.LayerNames, back.LayerNames);
            Assert.Equal(ae.Predict(x).ToDoubleArray(), back.Predict(x).ToDoubleArray());
            Assert.Equal(ae.Encode(x).ToDoubleArray(), back.Encode(x).ToDoubleArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ClassifierWithBatchNormKeepsRunningStatistics()
    {
        var spec = new Dictionary<string, object> { ["form"] = "batchnorm", ["name"] = "bn" };
        var c = new Classifier(DataKind.Feedforward, DType.Float64, 3, 5, spec, new Dictionary<string, object> { ["form"] = "dropout", ["rate"] = 0.2 }, 2);
        var x = T.Rand(2, 8, 3).Detach();
        _ = c.Forward(x, training: true); // updates the running statistics
        var path = TempFile("clf");
        try
        {
            c.Save(path);
            var back = Assert.IsType<Classifier>(SpecModel.Load(path));
            Assert.Equal(c.PredictProba(x).ToDoubleArray(), back.PredictProba(x).ToDoubleArray());
            Assert.Contains("bn.running_mean", back.StateDict().Keys);
            Assert.Equal(((BatchNorm)c.Layer("bn")).RunningVar!.ToDoubleArray(), ((BatchNorm)back.Layer("bn")).RunningVar!.ToDoubleArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FunctionalWeightsRoundTripAndMismatchesAreNamed()
    {
        Model Make(int hidden, ulong seed = 1)
        {
            var i = Input(3);
            return new Model(i, new Dense(2, name: "o").Call(new Dense(hidden, "tanh", name: "h").Call(i)), "f", DType.Float64, seed);
        }
        var a = Make(4);
        var b = Make(4, 2);
        var x = T.Rand(3, 2, 3).Detach();
        Assert.NotEqual(a.Predict(x).ToDoubleArray(), b.Predict(x).ToDoubleArray());
        var path = TempFile("w");
        try
        {
            a.SaveWeights(path);
            b.LoadWeights(path);
            Assert.Equal(a.Predict(x).ToDoubleArray(), b.Predict(x).ToDoubleArray());
            var e = Assert.Throws<ModelFormatException>(() => Make(5).LoadWeights(path));
            Assert.Contains("tensor 'h.", e.Message);
            Assert.Contains("needs [5", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadingAnUnregisteredFormFailsByName()
    {
        LayerRegistry.Register("temporary", "test-only form", ["size"], a => new Dense(a.Int("size"), name: a.Name));
        var r = new Regressor(DataKind.Feedforward, DType.Float64, 2, (3, "temporary"), 1);
        var path = TempFile("tmp");
        try
        {
            r.Save(path);
            LayerRegistry.Register("temporary", "replaced", ["size"], a => throw a.Error("form 'temporary' is no longer available."));
            var e = Assert.Throws<ModelFormatException>(() => SpecModel.Load(path));
            Assert.Contains("'hid1'", e.Message);
            Assert.Contains("temporary", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
