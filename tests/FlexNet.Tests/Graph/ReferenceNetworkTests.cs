using FlexNet.Graph;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.References;

namespace FlexNet.Tests.Graph;

/// <summary>The PyTorch reference cases feedback_net and delay2_recurrence, built with Connect through the public API.</summary>
public sealed class ReferenceNetworkTests
{
    private const double Tol = 1e-9;

    [Fact]
    public void FeedbackNetMatchesPyTorch()
    {
        var r = Reference.Load("feedback_net");
        var res = GraphReferenceCases.RunFeedback(r.Metadata, r.Tensor);
        foreach (var (name, actual) in res)
            T.Close(r.Tensor(name).ToDoubleArray(), actual.ToDoubleArray(), Tol, Tol, $"feedback_net {name}");
        Assert.Equal(11, res.Count); // out_y, grad_x and nine parameter gradients
    }

    [Fact]
    public void Delay2RecurrenceMatchesPyTorch()
    {
        var r = Reference.Load("delay2_recurrence");
        var res = GraphReferenceCases.RunDelay2(r.Metadata, r.Tensor);
        foreach (var (name, actual) in res)
            T.Close(r.Tensor(name).ToDoubleArray(), actual.ToDoubleArray(), Tol, Tol, $"delay2_recurrence {name}");
        Assert.Equal(5, res.Count);
    }
}
