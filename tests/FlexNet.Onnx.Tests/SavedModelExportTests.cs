using FlexNet.Connections;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using static FlexNet.Onnx.Tests.Ort;

namespace FlexNet.Onnx.Tests;

/// <summary>Models of the Keras-style front end saved to .flexnet (format 2: batch norm, dropout, LSTM) and loaded
/// with <see cref="Model.Load"/> export ONNX models whose outputs are the original model's predictions.</summary>
public sealed class SavedModelExportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flexnet-onnx-model-" + Guid.NewGuid().ToString("N"));

    public SavedModelExportTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Check(Model model, Tensor x, string what)
    {
        var expected = model.Predict(x);                       // the original, in inference mode
        string file = Path.Combine(_dir, what + ".flexnet");
        model.Save(file);
        var back = Model.Load(file);
        Assert.Equal(model.GetType(), back.GetType());
        var net = back.Network;
        string input = net.Inputs[0].Name, output = net.Outputs[0].Layer.Name;
        var xs = x.ToFloatArray();
        foreach (var mode in new[] { OnnxExportMode.Step, OnnxExportMode.Sequence, OnnxExportMode.Unrolled })
        {
            var got = Run(net.ToOnnxBytes(mode == OnnxExportMode.Unrolled ? new OnnxExportOptions { Mode = mode, Steps = 1 } : new OnnxExportOptions { Mode = mode }), (input, xs, x.Shape.ToArray()))[output];
            Close(expected, got, $"{what}, reloaded, {mode} form");
        }
    }

    /// <summary>Dense → batch norm (running statistics moved by training-mode passes) → dropout → dense.</summary>
    [Fact]
    public void SequentialWithBatchNormAndDropout_SavedLoadedExported()
    {
        var model = new Sequential("bn", DType.Float32, 11,
            new Dense(16, "relu", name: "fc1"), new BatchNorm(name: "bn"), new Dropout(0.3, name: "drop"),
            new Dense(3, name: "out")) { InputShape = [5] };
        var x = Tensor.FromArray(RandomData(6 * 5, 12), 6, 5);
        for (int i = 0; i < 3; i++) _ = model.Forward(Tensor.FromArray(RandomData(6 * 5, 20 + (ulong)i), 6, 5), training: true);
        var stats = model.StateDict();
        Assert.Contains(stats, kv => kv.Key == "bn.running_mean" && kv.Value.ToFloatArray().Any(v => v != 0f));
        Check(model, x, "bn");
    }

    /// <summary>An LSTM reading whole [N, T, F] sequences (batch first), its last step into a dense head.</summary>
    [Fact]
    public void SequentialWithLstm_SavedLoadedExported()
    {
        var model = new Sequential("lstm", DType.Float32, 13,
            new LSTM(6, returnSequences: false, name: "lstm"), new Dense(3, "tanh", name: "head")) { InputShape = [5, 4] };
        var x = Tensor.FromArray(RandomData(3 * 5 * 4, 14), 3, 5, 4);
        Check(model, x, "lstm");
    }
}
