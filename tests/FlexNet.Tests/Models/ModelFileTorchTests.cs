using FlexNet.Autodiff;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Models;

/// <summary>
/// PyTorch interop of saved models, both directions, with Debian's python3-torch: the .flexnet files of a Sequential
/// CNN (Conv2D → max pool → flatten → Dense), a GRU and an LSTM model (whole sequences, last step → Dense) load with
/// <c>load_state_dict(strict=True)</c> into the equivalent torch.nn modules (Conv2d/MaxPool2d/Linear, GRU/LSTM with
/// batch_first) and give the same outputs; each torch module's own state_dict, written as safetensors with numpy, loads
/// into the FlexNet model with <c>LoadWeights</c> and gives torch's outputs. Skipped with the reason without torch.
/// </summary>
public sealed class ModelFileTorchTests
{
    private const string Script = NetworkFileTorchTests.SafetensorsPy + """

        class Cnn(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
                self.fc = torch.nn.Linear(36, 3)
            def forward(self, x):
                return self.fc(torch.flatten(torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2), 1))

        class Rnn(torch.nn.Module):
            def __init__(self, cell):
                super().__init__()
                self.rnn = cell(3, 5, batch_first=True)
                self.fc = torch.nn.Linear(5, 2)
            def forward(self, x):
                y, _ = self.rnn(x)
                return self.fc(y[:, -1])

        d = sys.argv[1]
        torch.manual_seed(1234)
        outs = {}
        for name, make in [('cnn', Cnn), ('gru', lambda: Rnn(torch.nn.GRU)), ('lstm', lambda: Rnn(torch.nn.LSTM))]:
            x = read(d + '/x_' + name + '.safetensors')['x']
            m = make()
            m.load_state_dict(read(d + '/' + name + '.flexnet'), strict=True)   # FlexNet -> torch
            t = make()                                                          # torch -> FlexNet
            with torch.no_grad():
                outs[name + '_from_flexnet'] = m(x)
                outs[name + '_from_torch'] = t(x)
            write(d + '/' + name + '_torch.safetensors', t.state_dict())
        write(d + '/out.safetensors', outs)
        print('ok', torch.__version__)
        """;

    private static Sequential Make(string kind, ulong seed) => kind switch
    {
        "cnn" => new Sequential("cnn", DType.Float32, seed, new Conv2D(4, 3, padding: Padding.Same, activation: "relu", name: "conv"),
                                new MaxPool2D(2, name: "pool"), new Flatten("flat"), new Dense(3, name: "fc")) { InputShape = [2, 6, 6] },
        "gru" => new Sequential("gru", DType.Float32, seed, new GRU(5, returnSequences: false, name: "rnn"), new Dense(2, name: "fc")) { InputShape = [4, 3] },
        _ => new Sequential("lstm", DType.Float32, seed, new LSTM(5, returnSequences: false, name: "rnn"), new Dense(2, name: "fc")) { InputShape = [4, 3] },
    };

    [Fact]
    public void CnnGruAndLstmModels_LoadIntoTorchAndBack_WithTheSameOutputs()
    {
        if (NetworkFileTorchTests.TorchMissing() is { } reason)
        {
            Console.WriteLine($"ModelFileTorchTests skipped: {reason}");
            Assert.Skip(reason);
        }
        string dir = TestFiles.NewTempDir();
        try
        {
            var data = new RandomGenerator(5);
            var xs = new Dictionary<string, Tensor>
            {
                ["cnn"] = Tensor.Normal([3, 2, 6, 6], 0, 1, data),
                ["gru"] = Tensor.Normal([3, 4, 3], 0, 1, data),
                ["lstm"] = Tensor.Normal([3, 4, 3], 0, 1, data),
            };
            var models = xs.Keys.ToDictionary(k => k, k => Make(k, 21));
            foreach (var (k, m) in models)
            {
                m.Save(Path.Combine(dir, k + ".flexnet"));
                TensorFile.Save(Path.Combine(dir, $"x_{k}.safetensors"), new Dictionary<string, Tensor> { ["x"] = xs[k] });
            }
            string script = Path.Combine(dir, "interop.py");
            File.WriteAllText(script, Script);
            var (code, output) = NetworkFileTorchTests.Python(dir, script);
            Assert.True(code == 0, $"python3 failed ({code}): {output}");
            var outs = TensorFile.Load(Path.Combine(dir, "out.safetensors"), out _);
            foreach (var (k, m) in models)
            {
                float[] ours = m.Predict(xs[k]).ToFloatArray();
                NetworkFileTorchTests.AssertClose(ours, outs[k + "_from_flexnet"].ToFloatArray(), $"torch {k} with FlexNet's weights");
                var other = Make(k, 99);
                _ = other.Network;
                other.LoadWeights(Path.Combine(dir, k + "_torch.safetensors"));
                float[] theirs = other.Predict(xs[k]).ToFloatArray();
                NetworkFileTorchTests.AssertClose(outs[k + "_from_torch"].ToFloatArray(), theirs, $"FlexNet {k} with torch's weights");
                Assert.NotEqual(ours, theirs); // two different models: the comparison can fail
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
