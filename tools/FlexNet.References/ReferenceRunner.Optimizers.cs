using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.References;

public static partial class ReferenceRunner
{
    /// <summary>Registers the optimizer trajectories (<c>opt_*</c>: SGD, SGD nesterov, Adam, AdamW, RMSprop,
    /// Adagrad, Adadelta, Rprop).</summary>
    private static void RegisterOptimizers()
    {
        foreach (var op in new[] { "SGD", "SGD nesterov", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Rprop" })
            Register(op, OptimizerTrajectory);
    }

    /// <summary>
    /// Replays an <c>opt_*</c> case through the public optimizer API: model <c>y = W2 tanh(W1 x + b1) + b2</c>,
    /// mean softmax cross-entropy against <c>target</c>, one full-batch step per stored loss. Returns
    /// <c>losses</c> (the loss before each step) and <c>final_*</c> (the weights after the last step).
    /// </summary>
    /// <param name="c">The case (metadata <c>op</c> plus PyTorch keyword arguments).</param>
    /// <returns>Computed tensors by stored name.</returns>
    public static IReadOnlyDictionary<string, Tensor> OptimizerTrajectory(ReferenceCase c)
    {
        string[] names = ["W1", "b1", "W2", "b2"];
        var ps = new Tensor[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            ps[i] = c.Param("init_" + names[i]);
            ps[i].Name = names[i];
        }
        var x = c.Get("x");
        var target = c.Get("target");
        int steps = c.Get("losses").Length;
        var opt = new Optimizer(ps, OptimizerFactory.FromPyTorchName(c.Op, c.Metadata));
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            var loss = NN.CrossEntropy(NN.Linear(NN.Linear(x, ps[0], ps[1]).Tanh(), ps[2], ps[3]), target);
            loss.Backward();
            losses[s] = loss.Item();
            opt.Step();
        }
        var r = new Dictionary<string, Tensor> { ["losses"] = Tensor.FromArray(losses, steps) };
        for (int i = 0; i < names.Length; i++) r["final_" + names[i]] = ps[i].Detach();
        return r;
    }
}
