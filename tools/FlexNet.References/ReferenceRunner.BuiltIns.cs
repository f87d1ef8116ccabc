using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.References;

public static partial class ReferenceRunner
{
    private static void RegisterBuiltIns()
    {
        Register("conv2d", Conv2d);
        Register("conv1d", Conv1d);
        Register("conv_transpose2d", ConvTranspose2d);
        Register("max_pool2d", c => Pool(c, max: true, oneD: false));
        Register("max_pool1d", c => Pool(c, max: true, oneD: true));
        Register("avg_pool2d", c => Pool(c, max: false, oneD: false));
        Register("avg_pool1d", c => Pool(c, max: false, oneD: true));
        Register("softmax cross-entropy, mean over batch", c => CrossEntropy(c, mean: true));
        Register("cross_entropy", c => CrossEntropy(c, mean: c.Text("reduction", "mean") != "sum"));
        foreach (var op in GraphReferenceCases.Ops)
            Register(op, c => GraphReferenceCases.Run(c.Metadata, c.Get));
        foreach (var op in TorchRecurrentReference.Ops)
            Register(op, c => TorchRecurrentReference.Run(c.Op, c.Get));
        RegisterOptimizers();
    }

    private static Padding PaddingOf(ReferenceCase c)
    {
        var text = c.Text("padding", "0").Trim();
        if (text is "same" or "valid" or "'same'" or "'valid'") return Padding.Parse(text.Trim('\''));
        var (h, w) = c.Pair("padding", 0);
        return Padding.Explicit(h, w);
    }

    private static Dictionary<string, Tensor> Leaves(ReferenceCase c, params string[] names)
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var n in names)
            if (c.Has(n)) d[n] = c.Param(n);
        return d;
    }

    private static IReadOnlyDictionary<string, Tensor> Conv2d(ReferenceCase c)
    {
        var p = Leaves(c, "x", "w", "b");
        var y = NN.Conv2d(p["x"], p["w"], p.GetValueOrDefault("b"), c.Pair("stride", 1), PaddingOf(c), c.Pair("dilation", 1));
        return Collect(c, new Dictionary<string, Tensor> { ["y"] = y }, p);
    }

    private static IReadOnlyDictionary<string, Tensor> Conv1d(ReferenceCase c)
    {
        var p = Leaves(c, "x", "w", "b");
        var y = NN.Conv1d(p["x"], p["w"], p.GetValueOrDefault("b"), c.Int("stride", 1), PaddingOf(c), c.Int("dilation", 1));
        return Collect(c, new Dictionary<string, Tensor> { ["y"] = y }, p);
    }

    private static IReadOnlyDictionary<string, Tensor> ConvTranspose2d(ReferenceCase c)
    {
        var p = Leaves(c, "x", "w", "b");
        var y = NN.ConvTranspose2d(p["x"], p["w"], p.GetValueOrDefault("b"), c.Int("stride", 1), c.Int("padding", 0),
                                   c.Int("output_padding", 0), c.Int("dilation", 1));
        return Collect(c, new Dictionary<string, Tensor> { ["y"] = y }, p);
    }

    private static IReadOnlyDictionary<string, Tensor> Pool(ReferenceCase c, bool max, bool oneD)
    {
        var p = Leaves(c, "x");
        var x = p["x"];
        int k = c.Int("kernel", c.Int("kernel_size", 1));
        int s = c.Int("stride", k);
        int pad = c.Int("padding", 0);
        bool ceil = c.Bool("ceil_mode", false);
        Tensor y;
        if (max)
        {
            int d = c.Int("dilation", 1);
            y = oneD ? NN.MaxPool1d(x, k, s, pad, d, ceil) : NN.MaxPool2d(x, k, s, pad, d, ceil);
        }
        else
        {
            bool cip = c.Bool("count_include_pad", true);
            int div = c.Int("divisor_override", 0);
            y = oneD ? NN.AvgPool1d(x, k, s, pad, ceil, cip)
                     : NN.AvgPool2d(x, k, s, pad, ceil, cip, div);
        }
        return Collect(c, new Dictionary<string, Tensor> { ["y"] = y }, p);
    }

    private static IReadOnlyDictionary<string, Tensor> CrossEntropy(ReferenceCase c, bool mean)
    {
        var logits = c.Param("logits");
        var loss = NN.CrossEntropy(logits, c.Get("target"), mean);
        var r = new Dictionary<string, Tensor> { ["out_loss"] = loss };
        // the stored gradient is d(loss)/d(logits) with loss itself as the objective (no g_loss seed)
        if (c.Has("g_loss")) (loss * c.Get("g_loss").Reshape([])).Backward();
        else loss.Backward();
        r["grad_logits"] = logits.Grad!;
        return r;
    }
}
