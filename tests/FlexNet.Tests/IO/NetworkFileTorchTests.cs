using System.Diagnostics;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>
/// PyTorch interop of state dicts, both directions, with Debian's python3-torch: a FlexNet MLP's .flexnet file (plain
/// safetensors, read in Python with numpy) loads with <c>load_state_dict</c> into
/// <c>nn.Sequential(OrderedDict(fc1=Linear, act=ReLU, fc2=Linear))</c> and gives the same outputs; a torch model's
/// state_dict written as safetensors loads into the FlexNet MLP with <c>LoadStateDict</c> and gives torch's outputs.
/// Skipped, with the reason, when python3 or torch is not installed (.ci/run installs python3-torch).
/// </summary>
public sealed class NetworkFileTorchTests
{
    /// <summary>Python shared by the interop tests: imports, and reading/writing safetensors with numpy (Debian 12 has
    /// no safetensors package for Python).</summary>
    internal const string SafetensorsPy = """
        import json, struct, sys
        import numpy as np
        import torch

        def read(path):
            with open(path, 'rb') as f:
                b = f.read()
            n = struct.unpack('<Q', b[:8])[0]
            header = json.loads(b[8:8 + n])
            data = b[8 + n:]
            out = {}
            for name, e in header.items():
                if name == '__metadata__':
                    continue
                dt = {'F32': np.float32, 'F64': np.float64}[e['dtype']]
                s, t = e['data_offsets']
                out[name] = torch.from_numpy(np.frombuffer(data[s:t], dtype=dt).reshape(e['shape']).copy())
            return out

        def write(path, tensors):
            header, blobs, off = {}, [], 0
            for name in sorted(tensors):
                a = np.ascontiguousarray(tensors[name].detach().numpy().astype(np.float32))
                header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
                blobs.append(a.tobytes())
                off += a.nbytes
            h = json.dumps(header).encode()
            h += b' ' * ((8 - len(h) % 8) % 8)
            with open(path, 'wb') as f:
                f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
        """;

    private const string Script = SafetensorsPy + "\n" + """
        from collections import OrderedDict

        def mlp():
            return torch.nn.Sequential(OrderedDict(fc1=torch.nn.Linear(4, 8), act=torch.nn.ReLU(), fc2=torch.nn.Linear(8, 3)))

        d = sys.argv[1]
        x = read(d + '/x.safetensors')['x']
        # FlexNet -> torch
        m = mlp()
        m.load_state_dict(read(d + '/mlp.flexnet'), strict=True)
        # torch -> FlexNet
        torch.manual_seed(1234)
        t = mlp()
        with torch.no_grad():
            write(d + '/out.safetensors', {'from_flexnet': m(x), 'from_torch': t(x)})
        write(d + '/torch_state.safetensors', t.state_dict())
        print('ok', torch.__version__)
        """;

    private static Network Mlp(ulong seed)
    {
        var net = new Network("mlp", DType.Float32, seed);
        var x = new InputLayer(4, name: "x");
        var fc1 = new Layer(8, "relu", name: "fc1");
        var fc2 = new Layer(3, name: "fc2");
        net.Connect(x, fc1);
        net.Connect(fc1, fc2);
        return net;
    }

    /// <summary>Debian's interpreter (where apt's python3-torch lives) when present, not a pyenv shim first on PATH.</summary>
    private static string PythonPath => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    internal static (int Code, string Output) Python(string dir, string scriptPath)
    {
        var psi = new ProcessStartInfo(PythonPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(scriptPath);
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "python3 timed out");
        }
        return (p.ExitCode, stdout + stderr.Result);
    }

    internal static string? TorchMissing()
    {
        try
        {
            var psi = new ProcessStartInfo(PythonPath, "-c \"import torch, numpy\"") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit(60_000);
            return p.ExitCode == 0 ? null : "python3 has no torch or numpy (apt-get install python3-torch): " + err.Trim().Split('\n')[^1];
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return "python3 is not installed: " + e.Message;
        }
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"{what}[{i}]: {expected[i]:R} vs {actual[i]:R}");
    }

    [Fact]
    public void MlpStateDict_LoadsIntoTorchAndBack_WithTheSameOutputs()
    {
        if (TorchMissing() is { } reason)
        {
            Console.WriteLine($"NetworkFileTorchTests skipped: {reason}");
            Assert.Skip(reason);
        }
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = Mlp(21);
            var x = Tensor.Normal([5, 4], 0, 1, new RandomGenerator(3));
            net.Save(Path.Combine(dir, "mlp.flexnet"));
            TensorFile.Save(Path.Combine(dir, "x.safetensors"), new Dictionary<string, Tensor> { ["x"] = x });
            string script = Path.Combine(dir, "interop.py");
            File.WriteAllText(script, Script);
            var (code, output) = Python(dir, script);
            Assert.True(code == 0, $"python3 failed ({code}): {output}");

            var outs = TensorFile.Load(Path.Combine(dir, "out.safetensors"), out _);
            float[] ours;
            using (Autograd.NoGrad()) ours = net.Forward(x)[0].ToFloatArray();
            AssertClose(ours, outs["from_flexnet"].ToFloatArray(), "torch with FlexNet's weights");

            var other = Mlp(99);
            other.LoadStateDict(Path.Combine(dir, "torch_state.safetensors"));
            float[] theirs;
            using (Autograd.NoGrad()) theirs = other.Forward(x)[0].ToFloatArray();
            AssertClose(outs["from_torch"].ToFloatArray(), theirs, "FlexNet with torch's weights");
            Assert.NotEqual(ours, theirs); // two different models: the comparison can fail
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
