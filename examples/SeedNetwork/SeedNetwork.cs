using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Examples;

/// <summary>
/// The seed network of FlexNet's original design, translated to C#: 196-300-150(two connections L2→L3)-50-200-10,
/// sigmoid everywhere, 4 steps, plus the recurrent connection L6 → L2 with delay 2 the design called future work.
/// Trained on 14×14 downsampled Fashion-MNIST images (the same image at each of the 4 steps) with per-unit binary
/// cross-entropy on the sigmoid outputs of L4 at the last step and plain SGD.
/// </summary>
public static class SeedNetwork
{
    /// <summary>Builds and compiles the network.</summary>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="dtype">Element type.</param>
    /// <returns>The "Demo" network with output L4 at the last step.</returns>
    public static Network Build(ulong seed = 0, DType dtype = DType.Float32)
    {
        var net = new Network("Demo", dtype, seed);
        var l1 = new InputLayer(196, sequenceLength: 4, name: "L1");
        var l2 = new Layer(300, "sigmoid", name: "L2");
        var l3 = new Layer(150, "sigmoid", name: "L3");
        var l4 = new Layer(10, "sigmoid", name: "L4");
        var l5 = new Layer(50, "sigmoid", name: "L5");
        var l6 = new Layer(200, "sigmoid", name: "L6");
        net.ConnectDense(l1, l2);
        net.ConnectDense(l2, l3);
        net.ConnectDense(l2, l3); // a second connection between the same pair: the two simply add
        net.ConnectDense(l3, l5);
        net.ConnectDense(l5, l6);
        net.ConnectDense(l6, l4);
        net.ConnectDense(l6, l2, delay: 2); // recurrent: L2(t) also sees L6(t-2)
        net.AddOutput(l4, OutputMode.LastStep);
        net.Compile();
        // Glorot initialisation for sigmoid units (gain 4): W ~ U(±4·√(6/(in+out))) — the default (PyTorch's
        // U(±1/√in)) leaves a 5-layer sigmoid stack nearly untrainable by plain SGD
        var rng = new RandomGenerator(seed + 1);
        foreach (var c in net.Connections.OfType<DenseConnection>())
        {
            double a = 4 * Math.Sqrt(6.0 / (c.InFeatures + c.OutFeatures));
            c.Weight.CopyFrom(Tensor.Uniform(c.Weight.Shape.ToArray(), -a, a, rng, dtype));
            c.Bias?.Fill(0);
        }
        return net;
    }

    /// <summary>Loads the first <paramref name="count"/> images of a Fashion-MNIST split, 2×2-averaged to 14×14.</summary>
    /// <param name="directory">Folder with the IDX files (.gz accepted).</param>
    /// <param name="split">"t10k" or "train".</param>
    /// <param name="count">Number of images.</param>
    /// <returns>Images [count, 196] in [0, 1] and labels [count].</returns>
    public static (float[] Images, int[] Labels) LoadDownsampled(string directory, string split, int count)
    {
        var (images, labels, total) = FashionMnist.Load(directory, split);
        count = Math.Min(count, total);
        var x = new float[count * 196];
        for (int n = 0; n < count; n++)
            for (int i = 0; i < 14; i++)
                for (int j = 0; j < 14; j++)
                {
                    int b = n * 784 + 2 * i * 28 + 2 * j;
                    x[n * 196 + i * 14 + j] = 0.25f * (images[b] + images[b + 1] + images[b + 28] + images[b + 29]);
                }
        return (x, labels[..count]);
    }

    /// <summary>Mean over the batch of Σ_k −[y_k log p_k + (1 − y_k) log(1 − p_k)] for one-hot targets y.</summary>
    /// <param name="p">Sigmoid outputs [N, 10].</param>
    /// <param name="oneHot">Targets [N, 10].</param>
    /// <returns>A scalar loss.</returns>
    public static Tensor Loss(Tensor p, Tensor oneHot)
    {
        var q = p.Clip(1e-7, 1 - 1e-7);
        var ll = oneHot * q.Log() + (1 - oneHot) * (1 - q).Log();
        return -ll.Sum() / p.Shape[0];
    }

    /// <summary>One epoch of minibatch SGD (p ← p − lr·∂L/∂p) over the data in order; each batch runs in its own
    /// <see cref="TensorScope"/>, so the unrolled steps reuse pooled buffers.</summary>
    /// <param name="net">The compiled network.</param>
    /// <param name="images">Images [count·196].</param>
    /// <param name="labels">Labels [count].</param>
    /// <param name="batch">Minibatch size.</param>
    /// <param name="lr">Learning rate.</param>
    /// <returns>Mean loss over the epoch's batches.</returns>
    public static double TrainEpoch(Network net, float[] images, int[] labels, int batch, double lr)
    {
        var parameters = net.Parameters.ToArray();
        int count = labels.Length;
        double total = 0;
        int batches = 0;
        for (int start = 0; start + batch <= count; start += batch)
        {
            using var scope = TensorScope.Begin();
            var (x, y) = Batch(net, images, labels, start, batch);
            net.ZeroGrad();
            var p = net.Forward([x], training: true)[0];
            var loss = Loss(p, y);
            loss.Backward();
            total += loss.Item();
            batches++;
            using (Autograd.NoGrad())
                foreach (var w in parameters)
                    if (w.Grad is { } g) w.CopyFrom(w - g * lr);
        }
        return total / batches;
    }

    /// <summary>Loss and accuracy on the data, without gradients.</summary>
    /// <param name="net">The compiled network.</param>
    /// <param name="images">Images [count·196].</param>
    /// <param name="labels">Labels [count].</param>
    /// <returns>Mean loss and the fraction classified correctly.</returns>
    public static (double Loss, double Accuracy) Evaluate(Network net, float[] images, int[] labels)
    {
        using var scope = TensorScope.Begin();
        using var _ = Autograd.NoGrad();
        var (x, y) = Batch(net, images, labels, 0, labels.Length);
        var p = net.Forward(x)[0];
        var pred = p.ArgMax(1).ToInt32Array();
        int ok = 0;
        for (int i = 0; i < pred.Length; i++) if (pred[i] == labels[i]) ok++;
        return (Loss(p, y).Item(), ok / (double)pred.Length);
    }

    private static (Tensor X, Tensor Y) Batch(Network net, float[] images, int[] labels, int start, int n)
    {
        var img = Tensor.FromArray(images.AsSpan(start * 196, n * 196), n, 196).To(net.DType);
        var seq = img.Unsqueeze(0).Expand(4, n, 196); // the same image at each of the 4 steps (a view, no copy)
        var y = Tensor.Zeros([n, 10], net.DType);
        for (int i = 0; i < n; i++) y[i, labels[start + i]] = 1;
        return (seq, y);
    }
}
