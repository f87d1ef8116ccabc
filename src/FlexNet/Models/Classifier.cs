using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>theanets Classifier from layer specs (see <see cref="SpecModel"/>). Its last layer is linear by default:
/// the model's output (<see cref="Model.Forward(Tensor, bool)"/>) is the logits, which the cross-entropy loss
/// (<c>xe</c>, like torch's CrossEntropyLoss and Keras' from_logits=True) turns into log-probabilities itself, so
/// <c>new Classifier(784, 256, 10)</c> trains with <see cref="Losses.CrossEntropy"/> as theanets' softmax output with
/// <c>xe</c> did. <see cref="PredictProba"/> applies the softmax: class probabilities; <see cref="Predict"/> gives
/// the arg-max labels (Int32), <see cref="Score"/> the accuracy.</summary>
public sealed class Classifier : SpecModel
{
    /// <summary>A feedforward (or convolutional) classifier.</summary>
    /// <param name="layers">Layer specs, input first.</param>
    public Classifier(params object[] layers) : this(DataKind.Feedforward, DType.Float32, layers) { }

    /// <summary>A classifier for the given data family.</summary>
    /// <param name="kind">Data family.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="layers">Layer specs, input first.</param>
    public Classifier(DataKind kind, DType dtype, params object[] layers) : base(kind, dtype, "linear", layers) { }

    /// <summary>Class probabilities [..., classes]: <c>softmax(logits)</c> over the last axis.</summary>
    /// <param name="x">Inputs.</param>
    /// <returns>Probabilities (detached).</returns>
    public Tensor PredictProba(Tensor x)
    {
        var logits = base.Predict(x);
        // a model whose specs name a softmax output (or one saved before logits were the default) gives probabilities already
        if (Network.Outputs[0].Layer.Activation.Equals("softmax", StringComparison.OrdinalIgnoreCase)) return logits;
        using (Autograd.NoGrad()) return NN.Softmax(logits, -1);
    }

    /// <summary>Arg-max labels [...] (Int32).</summary>
    /// <param name="x">Inputs.</param>
    /// <returns>Labels.</returns>
    public Tensor Predict(Tensor x)
    {
        var p = PredictProba(x);
        using (Autograd.NoGrad()) return p.ArgMax(p.Rank - 1);
    }

    /// <summary>Accuracy: the fraction of samples whose arg-max equals the label.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="labels">Int32 labels.</param>
    /// <returns>Accuracy in [0, 1].</returns>
    public double Score(Tensor x, Tensor labels)
    {
        var p = Predict(x).ToInt32Array();
        var l = labels.To(DType.Int32).ToInt32Array();
        if (p.Length != l.Length) throw new ShapeMismatchException($"Classifier.Score: {p.Length} predictions but {l.Length} labels.");
        int ok = 0;
        for (int i = 0; i < p.Length; i++) if (p[i] == l[i]) ok++;
        return ok / (double)p.Length;
    }
}
