using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Models;

/// <summary>The format-version-2 golden file: a Sequential model written once by the v2 code keeps loading, as the
/// same kind, with the same outputs, and saves back to the same bytes.</summary>
public sealed class ModelFileGoldenTests
{
    /// <summary>Whole sequences [N, 4, 2] → LSTM → batch norm → dropout → dense (its seeded initial weights).</summary>
    internal static Sequential Golden() =>
        new("golden", DType.Float32, 3, new LSTM(3, returnSequences: false, name: "lstm"), new BatchNorm(name: "bn"),
            new Dropout(0.5, name: "drop"), new Dense(2, "tanh", name: "head")) { InputShape = [4, 2] };

    [Fact]
    public void GoldenV2File_StillLoads()
    {
        // written once (Golden().Save) by the v2 code; never regenerate it
        string path = TestFiles.TestData("model-files", "v2", "sequential.flexnet");
        var loaded = Assert.IsType<Sequential>(Model.Load(path));
        var fresh = Golden();
        var x = Tensor.Normal([3, 4, 2], 0, 1, new RandomGenerator(11));
        Assert.Equal(fresh.Predict(x).ToDoubleArray(), loaded.Predict(x).ToDoubleArray());
        Assert.Equal(File.ReadAllBytes(path), ModelFileTests.Bytes(loaded));
        Assert.Equal(fresh.Predict(x).ToDoubleArray(), NetworkFileTests.Run(Network.Load(path), [x])[0].ToDoubleArray());
    }
}
