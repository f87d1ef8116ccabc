using FlexNet.Optimizers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Optimizers;

/// <summary>The PyTorch opt_* trajectories (5 full-batch steps of y = W2 tanh(W1 x + b1) + b2, mean CE) in float64.
/// Runs with the training tests (not in parallel): its per-step scopes would move the global buffer-pool counters
/// that other tests assert on.</summary>
[Collection("Training")]
public sealed class OptimizerReferenceTests
{
    [Theory]
    [InlineData("opt_sgd_momentum")]
    [InlineData("opt_sgd_nesterov")]
    [InlineData("opt_adam")]
    [InlineData("opt_rmsprop")]
    [InlineData("opt_adagrad")]
    public void TrajectoryMatchesPyTorch(string name)
    {
        var r = Reference.Load(name);
        var names = new[] { "W1", "b1", "W2", "b2" };
        var ps = names.Select(n => { var t = r.Tensor("init_" + n).RequireGrad(); t.Name = n; return t; }).ToArray();
        var x = r.Tensor("x");
        var target = r.Tensor("target");
        var rule = OptimizerFactory.FromPyTorchName(r.Metadata["op"], r.Metadata);
        var opt = new Optimizer(ps, rule);
        var expectedLosses = r.Tensor("losses").ToDoubleArray();
        var losses = new double[expectedLosses.Length];
        for (int step = 0; step < losses.Length; step++)
        {
            opt.ZeroGrad();
            using var scope = TensorScope.Begin();
            var y = NN.Linear(NN.Linear(x, ps[0], ps[1]).Tanh(), ps[2], ps[3]);
            var loss = NN.CrossEntropy(y, target);
            loss.Backward();
            losses[step] = loss.Item();
            opt.Step();
        }
        T.Close(expectedLosses, losses, 1e-10, 1e-14, name + " losses");
        for (int i = 0; i < names.Length; i++)
            T.Close(r.Tensor("final_" + names[i]).ToDoubleArray(), ps[i].ToDoubleArray(), 1e-10, 1e-14, $"{name} final_{names[i]}");
    }
}
