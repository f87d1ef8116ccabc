using System.Runtime.CompilerServices;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = FlexNet.Tensors.Tensor;

namespace FlexNet.Onnx.Tests;

/// <summary>Runs exported models in ONNX Runtime and compares with FlexNet (rtol 1e-4, atol 1e-5).</summary>
internal static class Ort
{
    internal const double Rtol = 1e-4, Atol = 1e-5;

    internal static string RepoRoot([CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", ".."));

    /// <summary>Every parameter set to N(0, std²) so biases are exercised.</summary>
    internal static void Randomize(Network net, ulong seed, double std = 0.5)
    {
        net.Build();
        var rng = new RandomGenerator(seed);
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.Shape.ToArray(), 0, std, rng));
    }

    internal static float[] RandomData(int length, ulong seed) => Tensor.Normal([length], 0, 1, new RandomGenerator(seed)).ToFloatArray();

    internal static Tensor[] Forward(Network net, int? steps, params Tensor[] inputs)
    {
        using (Autograd.NoGrad()) return net.Forward(inputs, training: false, steps: steps);
    }

    /// <summary>One call; returns every output by name.</summary>
    internal static Dictionary<string, (float[] Values, int[] Dims)> Run(byte[] model, params (string Name, float[] Values, int[] Dims)[] inputs)
    {
        using var session = new InferenceSession(model);
        return Run(session, inputs);
    }

    internal static Dictionary<string, (float[] Values, int[] Dims)> Run(InferenceSession session, params (string Name, float[] Values, int[] Dims)[] inputs)
    {
        var feeds = inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>((float[])i.Values.Clone(), i.Dims))).ToList();
        using var outputs = session.Run(feeds);
        var result = new Dictionary<string, (float[], int[])>();
        foreach (var o in outputs)
        {
            var t = o.AsTensor<float>();
            result[o.Name] = (t.ToArray(), t.Dimensions.ToArray());
        }
        return result;
    }

    /// <summary>Drives a step model for <paramref name="steps"/> steps: every input that is not a network input is state,
    /// starting from zeros ([.., N, ..] with the symbolic batch replaced by <paramref name="n"/>) and fed from the output
    /// named after it with <c>_next</c>. Returns each non-state output per step.</summary>
    internal static Dictionary<string, float[][]> RunSteps(byte[] model, int n, int steps, Func<int, (string Name, float[] Values, int[] Dims)[]> inputsAt)
    {
        using var session = new InferenceSession(model);
        var first = inputsAt(0).Select(i => i.Name).ToHashSet();
        var state = new Dictionary<string, (float[], int[])>();
        foreach (var (name, meta) in session.InputMetadata)
            if (!first.Contains(name))
            {
                var dims = meta.Dimensions.Select(d => d < 0 ? n : d).ToArray();
                Assert.Contains(-1, meta.Dimensions); // the batch dimension is symbolic
                state[name] = (new float[dims.Aggregate(1, (a, b) => a * b)], dims);
            }
        var result = new Dictionary<string, float[][]>();
        for (int t = 0; t < steps; t++)
        {
            var feeds = inputsAt(t).Concat(state.Select(s => (s.Key, s.Value.Item1, s.Value.Item2))).ToArray();
            foreach (var (name, (values, dims)) in Run(session, feeds))
            {
                if (name.EndsWith("_next", StringComparison.Ordinal)) state[name[..^"_next".Length]] = (values, dims);
                else
                {
                    if (!result.TryGetValue(name, out var perStep)) result[name] = perStep = new float[steps][];
                    perStep[t] = values;
                }
            }
        }
        return result;
    }

    internal static void Close(float[] expected, float[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: FlexNet has {expected.Length} values, ONNX Runtime {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= Atol + Rtol * Math.Abs(expected[i]), $"{what}[{i}]: FlexNet {expected[i]}, ONNX Runtime {actual[i]} (|diff| {diff})");
        }
    }

    internal static void Close(Tensor expected, (float[] Values, int[] Dims) actual, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Dims);
        Close(expected.ToFloatArray(), actual.Values, what);
    }

    internal static float[] Row(float[] all, int t, int per) => all.AsSpan(t * per, per).ToArray();
}
