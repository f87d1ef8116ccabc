using FlexNet.Tensors;

namespace FlexNet.IO;

/// <summary>
/// Named tensors to and from safetensors files (readable by PyTorch's <c>safetensors.torch.load_file</c>).
/// Float32 tensors are stored as F32, Float64 as F64, Int32 as I32. Writes are atomic.
/// </summary>
public static class TensorFile
{
    /// <summary>Converts a tensor to a safetensors entry (copying its values row-major).</summary>
    /// <param name="name">Entry name.</param>
    /// <param name="tensor">Any tensor (views are copied contiguously).</param>
    /// <returns>The entry.</returns>
    public static SafeTensorEntry ToEntry(string name, Tensor tensor)
    {
        var shape = tensor.Shape.ToArray();
        return tensor.DType switch
        {
            DType.Float32 => SafeTensorEntry.FromFloats(name, shape, tensor.ToFloatArray()),
            DType.Float64 => SafeTensorEntry.FromDoubles(name, shape, tensor.ToDoubleArray()),
            _ => SafeTensorEntry.FromInt32s(name, shape, tensor.ToInt32Array()),
        };
    }

    /// <summary>Converts an entry to a tensor: F32/F16/BF16 → Float32, F64 → Float64, integer types → Int32,
    /// unless <paramref name="dtype"/> asks for another floating type.</summary>
    /// <param name="entry">The entry.</param>
    /// <param name="dtype">Optional target dtype.</param>
    /// <returns>A new tensor.</returns>
    /// <exception cref="ModelFormatException">For integer values out of Int32 range.</exception>
    public static Tensor ToTensor(SafeTensorEntry entry, DType? dtype = null)
    {
        var shape = entry.Shape;
        Tensor t = entry.DType switch
        {
            SafeTensorDType.F64 => Tensor.FromArray(entry.ToDoubleArray(), shape),
            SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 => Tensor.FromArray(entry.ToFloatArray(), shape),
            _ => Tensor.FromArray(entry.ToInt32Array(), shape),
        };
        return dtype is { } d && d != t.DType ? t.To(d) : t;
    }

    /// <summary>Writes named tensors (and string metadata) atomically to <paramref name="path"/>.</summary>
    /// <param name="path">Destination file.</param>
    /// <param name="tensors">Tensors by name.</param>
    /// <param name="metadata">Optional string metadata (stored in <c>__metadata__</c>).</param>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new List<SafeTensorEntry>(tensors.Count);
        foreach (var (name, t) in tensors) entries.Add(ToEntry(name, t));
        SafeTensorWriter.Write(path, metadata, entries);
    }

    /// <summary>Reads every tensor of a safetensors file.</summary>
    /// <param name="path">Source file.</param>
    /// <param name="metadata">The file's metadata.</param>
    /// <returns>Tensors by name.</returns>
    /// <exception cref="ModelFormatException">When the file is malformed.</exception>
    public static Dictionary<string, Tensor> Load(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        var f = SafeTensorFile.Read(path);
        metadata = f.Metadata;
        var r = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in f.Tensors) r[e.Name] = ToTensor(e);
        return r;
    }
}
