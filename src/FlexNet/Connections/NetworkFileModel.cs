using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>One layer of a .flexnet architecture, as written in (or read from) the file. Plain data: no tensor, no
/// object of the network.</summary>
internal sealed class LayerRecord
{
    public required string Kind;          // layer | input | flatten | reshape | pool | a registered kind
    public required string Name;
    public int[]? Shape;                  // layer: declared shape (null = inferred); input: shape; reshape: target
    public string Activation = "linear";
    public CombineRule Combine = CombineRule.Sum;
    public bool Bias;
    public bool LearnInitialState;
    public int? SequenceLength;           // input
    public string Pool = "max";           // pool: max | average
    public bool Global;                   // pool
    public int Dimensions, Size, Stride, Padding; // pool
    public bool ChangesShape;             // a registered kind (LayerKinds)
    public SortedDictionary<string, string>? Options; // a registered kind
}

/// <summary>One connection of a .flexnet architecture.</summary>
internal sealed class ConnectionRecord
{
    public required string Kind;          // dense | conv2d | conv_transpose2d | conv1d | identity | elementwise | tied | complement | shared
    public required string Name;
    public required string From;
    public required string To;
    public int Delay;
    public bool Bias;
    public int? Units;                    // dense
    public int? OutChannels;              // conv2d, conv_transpose2d, conv1d
    public int Kernel, Stride = 1, Dilation = 1; // convolutions
    public Padding Pad;                   // conv2d, conv1d
    public int PadT;                      // conv_transpose2d
    public int? OutputPadding;            // conv_transpose2d
    public string? Partner;               // tied, shared
    public SortedDictionary<string, string>? Options; // a registered kind (ConnectionKinds)
    public Layers.LayerInit? Init;        // set with ConnectionInit (format version 2)
}

/// <summary>A network's whole description in a .flexnet file.</summary>
internal sealed class NetworkRecord
{
    public required string Name;
    public required DType DType;
    public ulong Seed;
    public int? Steps;                    // null: derived from the inputs' sequence lengths
    public int? TruncatedBptt;
    public bool Stateful;
    public bool FuseDenseLayers = true;
    public List<LayerRecord> Layers = new();
    public List<ConnectionRecord> Connections = new();
    public List<(string Layer, OutputMode Mode)> Outputs = new();
}

/// <summary>One entry of a state dict as the architecture predicts it: its name, its shape and which parameter of
/// which layer or connection it is.</summary>
internal readonly record struct StateSlot(string Name, int[] Shape, bool OfLayer, int Index, string Parameter);
