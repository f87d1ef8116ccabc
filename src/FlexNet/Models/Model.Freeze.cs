using FlexNet.Graph;
using FlexNet.IO;

namespace FlexNet.Models;

public partial class Model
{
    /// <summary>A frozen snapshot of this model for inference (PyTorch's <c>torch.jit.freeze</c>, an ONNX Runtime
    /// session): a private deep copy of the network and of every weight and buffer as they are now, made through the
    /// model file (<see cref="Save"/>/<see cref="Load"/>, in memory), that runs <see cref="FrozenModel.Predict"/> in
    /// evaluation mode without gradients and keeps its packed weights from call to call. Training or changing this
    /// model afterwards does not change the frozen model's outputs: that is the point of a snapshot (freeze again to
    /// see new weights). Builds the model first (a traced model needs its input shape).</summary>
    /// <returns>The frozen model; dispose it to give its packed weights back.</returns>
    /// <exception cref="GraphException">The model cannot be copied through its model file (an unregistered subclass,
    /// a layer without a configuration, an unknown input shape, a network changed through <see cref="Network"/> after
    /// it was built, or a <see cref="Network.Stateful"/> network): the message names the model and the reason.</exception>
    public FrozenModel Freeze()
    {
        var net = Network; // builds (throws GraphException naming the model when the input shape is unknown)
        if (net.Stateful)
            throw new GraphException($"Model '{Name}' cannot be frozen: its network is stateful (Predict would carry the recurrent state from one call " +
                                     "to the next), and a frozen model is a pure function of its input; set Network.Stateful = false first.");
        Model copy;
        string source = $"frozen copy of model '{Name}'";
        try
        {
            var (meta, entries) = ModelFile.Image(this);
            copy = ModelFile.Load(SafeTensorParser.Parse(SafeTensorWriter.ToBytes(meta, entries), source), source);
        }
        catch (FlexNetException e)
        {
            throw new GraphException($"Model '{Name}' cannot be frozen: a frozen model is a private copy made through the model file (in memory), and {Lower(e.Message)}");
        }
        var cn = copy.Network;
        if (cn.Layers.Count != net.Layers.Count || cn.Connections.Count != net.Connections.Count)
            throw new GraphException($"Model '{Name}' cannot be frozen: its network has {net.Layers.Count} layers and {net.Connections.Count} connections, " +
                                     $"its model file rebuilds {cn.Layers.Count} and {cn.Connections.Count} (was the network changed through Model.Network after the model was built?).");
        // the run settings the model file does not hold, so that the copy computes what Predict computes, bit for bit
        cn.FuseDenseLayers = net.FuseDenseLayers;
        cn.HoistInvariants = net.HoistInvariants;
        cn.FuseCells = net.FuseCells;
        cn.CheckFinite = net.CheckFinite;
        if (net.StepsExplicit) cn.Steps = net.Steps;
        cn.Compile();
        cn.KeepPacks = true;
        return new FrozenModel(copy);
    }

    private static string Lower(string message) => message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..] : message;
}
