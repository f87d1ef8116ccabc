using FlexNet.Graph;
using Tensor = FlexNet.Tensors.Tensor;
using FlexNet.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FlexNet.Examples.OnnxServe;

/// <summary>Classifies flattened 28×28 images with an exported network in ONNX Runtime, and with FlexNet itself.</summary>
public static class OnnxClassifier
{
    /// <summary>The class (argmax of the output) of each of the first <paramref name="count"/> images, computed by ONNX
    /// Runtime from an exported model whose single input takes [N, 784] images and whose first output is [N, classes]
    /// (the sequence form of a feedback network, or any form of a non-recurrent one).</summary>
    /// <param name="onnxModel">The .onnx file.</param>
    /// <param name="images">Images, 784 values each.</param>
    /// <param name="count">Number of images.</param>
    /// <param name="batchSize">Images per call.</param>
    /// <returns>The predicted classes.</returns>
    public static int[] ClassifyOnnx(string onnxModel, float[] images, int count, int batchSize = 256)
    {
        using var session = new InferenceSession(onnxModel);
        string input = session.InputMetadata.Keys.Single();
        string output = session.OutputMetadata.Keys.First();
        var classes = new int[count];
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            var x = new DenseTensor<float>(images.AsMemory(start * 784, n * 784), [n, 784]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, x)], [output]);
            var logits = results[0].AsTensor<float>().ToArray();
            Argmax(logits, n, classes.AsSpan(start, n));
        }
        return classes;
    }

    /// <summary>The same with FlexNet's own forward pass (<see cref="NetworkTrainable.Predict"/>).</summary>
    /// <param name="network">A network with one input [784] and one last-step or non-temporal output.</param>
    /// <param name="images">Images, 784 values each.</param>
    /// <param name="count">Number of images.</param>
    /// <returns>The predicted classes.</returns>
    public static int[] ClassifyFlexNet(Network network, float[] images, int count)
    {
        var logits = network.Predict(Tensor.FromArray(images.AsSpan(0, count * 784), count, 784)).ToFloatArray();
        var classes = new int[count];
        Argmax(logits, count, classes);
        return classes;
    }

    /// <summary>The fraction of <paramref name="predicted"/> equal to <paramref name="labels"/>.</summary>
    /// <param name="predicted">Predicted classes.</param>
    /// <param name="labels">True classes (at least as many).</param>
    /// <returns>The accuracy in [0, 1].</returns>
    public static double Accuracy(int[] predicted, ReadOnlySpan<int> labels)
    {
        int correct = 0;
        for (int i = 0; i < predicted.Length; i++) if (predicted[i] == labels[i]) correct++;
        return predicted.Length == 0 ? 0 : correct / (double)predicted.Length;
    }

    private static void Argmax(float[] logits, int n, Span<int> classes)
    {
        int k = logits.Length / n;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
            classes[i] = best;
        }
    }
}
