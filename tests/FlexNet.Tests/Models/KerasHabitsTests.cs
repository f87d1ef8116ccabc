using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Tests.Models;

/// <summary>Keras' Compile/Fit/Evaluate/Predict with named arguments, and theanets' Classifier as documented.</summary>
public class KerasHabitsTests
{
    /// <summary>Three Gaussian blobs in 4-D, well apart: a linear classifier reaches near-perfect accuracy.</summary>
    private static (Tensor X, Tensor Y) Blobs(int n, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        var noise = Tensor.Normal([n, 4], 0, 0.5, rng).ToFloatArray();
        var x = new float[n * 4];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % 3;
            for (int j = 0; j < 4; j++) x[i * 4 + j] = noise[i * 4 + j] + (j == y[i] ? 3f : 0f);
        }
        return (Tensor.FromArray(x, [n, 4]), Tensor.FromArray(y, n));
    }

    /// <summary>Accuracy counted by hand from the logits.</summary>
    private static double Accuracy(Tensor logits, Tensor labels)
    {
        var z = logits.ToFloatArray();
        var l = labels.ToInt32Array();
        int c = z.Length / l.Length, ok = 0;
        for (int i = 0; i < l.Length; i++)
        {
            int best = 0;
            for (int k = 1; k < c; k++) if (z[i * c + k] > z[i * c + best]) best = k;
            if (best == l[i]) ok++;
        }
        return ok / (double)l.Length;
    }

    [Fact]
    public void SequentialCompilesFitsEvaluatesAndPredictsWithKerasArguments()
    {
        var (x, y) = Blobs(300, 1);
        var model = new Sequential(new Dense(16, "relu"), new Dense(3)) { InputShape = [4] };
        model.Compile(loss: "sparse_categorical_crossentropy", optimizer: "adam", metrics: ["accuracy"]);
        var h = model.Fit(x, y, epochs: 3, batchSize: 32, validationSplit: 0.2, verbose: 0);
        Assert.Equal(3, h.Epochs.Count);
        Assert.Contains("val_acc", h.Values.Keys);
        // a second Fit continues: epochs 3..5, the optimizer's state kept
        var h2 = model.Fit(x, y, epochs: 20, batchSize: 32, verbose: 0);
        Assert.Equal(Enumerable.Range(3, 20), h2.Epochs);
        Assert.True(h2.Values["loss"][^1] < h.Values["loss"][0], $"{h2.Values["loss"][^1]} vs {h.Values["loss"][0]}");

        var r = model.Evaluate(x, y);
        var logits = model.Predict(x, batchSize: 7); // batches of 7 give the same as one pass
        Assert.Equal([300, 3], logits.Shape);
        Assert.Equal(Accuracy(logits, y), r["acc"], 12);
        Assert.True(r["acc"] > 0.9, $"accuracy {r["acc"]}");
        // the loss by hand: mean of logsumexp(z) − z_y
        var z = logits.ToFloatArray();
        var l = y.ToInt32Array();
        double sum = 0;
        for (int i = 0; i < 300; i++)
        {
            double m = Math.Max(z[i * 3], Math.Max(z[i * 3 + 1], z[i * 3 + 2]));
            double lse = m + Math.Log(Math.Exp(z[i * 3] - m) + Math.Exp(z[i * 3 + 1] - m) + Math.Exp(z[i * 3 + 2] - m));
            sum += lse - z[i * 3 + l[i]];
        }
        Assert.Equal(sum / 300, r["loss"], 4);

        // one sample in, one output out
        var one = model.Predict(x.Slice(0, 5, 1).Reshape(4));
        Assert.Equal([3], one.Shape);
        var row = logits.ToFloatArray().AsSpan(15, 3).ToArray(); // sample 5 of the batch (another GEMM shape: rounding only)
        for (int k = 0; k < 3; k++) Assert.True(Math.Abs(row[k] - one.ToFloatArray()[k]) < 1e-5, $"{row[k]} vs {one.ToFloatArray()[k]}");
    }

    [Fact]
    public void FunctionalModelTakesAnOptimizerRuleAndKerasMetricNames()
    {
        var (x, y) = Blobs(120, 2);
        var input = Functional.Input([4]);
        var output = new Dense(3).Call(new Dense(8, "tanh").Call(input));
        var model = new Model(input, output);
        model.Compile(loss: "categorical_crossentropy", optimizer: new Sgd(0.1), metrics: ["sparse_categorical_accuracy", "top_k_categorical_accuracy"]);
        var h = model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0);
        Assert.Contains("acc", h.Values.Keys);
        Assert.Contains("top5", h.Values.Keys);
        Assert.Equal(1.0, model.Evaluate(x, y)["top5"]); // 3 classes: always in the top 5
    }

    [Fact]
    public void KerasMistakesGetMessagesThatSayWhatToDo()
    {
        var (x, y) = Blobs(30, 3);
        var model = new Sequential(new Dense(3)) { InputShape = [4] };
        Assert.Contains("Compile", Assert.Throws<InvalidOperationException>(() => model.Fit(x, y, epochs: 1)).Message);
        Assert.Contains("Registered", Assert.Throws<ArgumentException>(() => model.Compile(loss: "sparse_crossentropy")).Message);
        Assert.Contains("accuracy", Assert.Throws<ArgumentException>(() => model.Compile(loss: "mse", metrics: ["f1"])).Message);
        // float labels with a class loss
        model.Compile(loss: "sparse_categorical_crossentropy", metrics: ["accuracy"]);
        var floats = y.To(DType.Float32);
        var e = Assert.ThrowsAny<FlexNetException>(() => model.Fit(x, floats, epochs: 1, verbose: 0));
        Assert.Contains("integer labels", e.Message);
        // a softmax output with cross-entropy is refused with what to write instead
        var soft = new Sequential(new Dense(3, "softmax")) { InputShape = [4] };
        soft.Compile(loss: "sparse_categorical_crossentropy");
        Assert.Contains("linear activation", Assert.Throws<ArgumentException>(() => soft.Fit(x, y, epochs: 1, verbose: 0)).Message);
    }

    [Fact]
    public void TheanetsClassifierAsDocumentedTrainsWithCrossEntropy()
    {
        var (x, y) = Blobs(300, 4);
        var net = new Classifier(4, (16, "relu"), 3);
        net.Compile(loss: "xe", optimizer: new Adam(1e-2));
        net.Fit(x, y, epochs: 10, batchSize: 32, verbose: 0);
        Assert.True(net.Score(x, y) > 0.9, $"accuracy {net.Score(x, y)}");
        // the output is the logits; PredictProba is their softmax, computed here by hand
        var z = net.Forward(x).ToFloatArray();
        var p = net.PredictProba(x).ToFloatArray();
        for (int i = 0; i < 300; i++)
        {
            double m = Math.Max(z[i * 3], Math.Max(z[i * 3 + 1], z[i * 3 + 2]));
            double s = Math.Exp(z[i * 3] - m) + Math.Exp(z[i * 3 + 1] - m) + Math.Exp(z[i * 3 + 2] - m);
            for (int k = 0; k < 3; k++) Assert.True(Math.Abs(Math.Exp(z[i * 3 + k] - m) / s - p[i * 3 + k]) < 1e-6, $"sample {i} class {k}");
        }
        // and through the trainer with the loss object, as the README's theanets users write it
        var again = new Classifier(4, (16, "relu"), 3);
        var h = again.Fit(x, y, new TrainerOptions { Loss = new CrossEntropy(), Optimizer = new Adam(1e-2), Epochs = 10, Progress = ProgressMode.None });
        Assert.True(h.Values["loss"][^1] < 0.3, $"loss {h.Values["loss"][^1]}");
    }
}
