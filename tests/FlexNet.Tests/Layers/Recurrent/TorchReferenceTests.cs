using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.References;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>testdata/reference rnn_tanh, gru, lstm (PyTorch float64) recomputed through the cells.</summary>
public class TorchReferenceTests
{
    // float64 reference: the only differences are summation order in products of length ≤ 4·H
    private const double Tol64 = 1e-9;

    // float32 after a cast, as the reference README suggests
    private const double Tol32 = 1e-4;

    [Theory]
    [InlineData("rnn_tanh")]
    [InlineData("gru")]
    [InlineData("lstm")]
    public void MatchesPyTorchInFloat64(string name)
    {
        var r = Reference.Load(name);
        var op = r.Metadata["op"];
        var got = TorchRecurrentReference.Run(op, r.Tensor);
        string[] keys = ["out_y", "out_h_last", "grad_x", "grad_weight_ih_l0", "grad_weight_hh_l0", "grad_bias_ih_l0", "grad_bias_hh_l0"];
        Assert.Equal(keys.Length, got.Count);
        foreach (var k in keys)
        {
            var expected = r.Tensor(k);
            Assert.Equal(expected.ShapeArray, got[k].ShapeArray);
            Assert.Equal(DType.Float64, got[k].DType);
            T.Close(expected.ToDoubleArray(), got[k].ToDoubleArray(), Tol64, Tol64, $"{name} {k}");
        }
    }

    [Theory]
    [InlineData("rnn_tanh")]
    [InlineData("gru")]
    [InlineData("lstm")]
    public void MatchesPyTorchInFloat32(string name)
    {
        var r = Reference.Load(name);
        var got = TorchRecurrentReference.Run(r.Metadata["op"], k => r.Tensor(k).To(DType.Float32));
        foreach (var k in new[] { "out_y", "out_h_last", "grad_x", "grad_weight_hh_l0" })
        {
            Assert.Equal(DType.Float32, got[k].DType);
            T.Close(r.Tensor(k).ToDoubleArray(), got[k].ToDoubleArray(), Tol32, Tol32, $"{name} float32 {k}");
        }
    }

    [Fact]
    public void UnknownOpIsNamed()
    {
        var r = Reference.Load("lstm");
        var e = Assert.Throws<ArgumentException>(() => TorchRecurrentReference.Run("lstm2", r.Tensor));
        Assert.Contains("lstm2", e.Message);
        Assert.Contains("gru", e.Message);
    }
}
