using FlexNet.Tensors;

namespace FlexNet.Tests.Testing;

/// <summary>Loads a PyTorch reference case from testdata/reference (copied from ../shared/reference) as tensors,
/// parsed by the test-only <see cref="SafetensorsTestReader"/> (independent of the library's reader).</summary>
internal sealed class Reference
{
    private readonly SafetensorsTestReader _reader;

    private Reference(SafetensorsTestReader reader) => _reader = reader;

    internal IReadOnlyDictionary<string, string> Metadata => _reader.Metadata;

    internal static string Dir => Path.Combine(AppContext.BaseDirectory, "testdata", "reference");

    internal static Reference Load(string name) => new(SafetensorsTestReader.OpenReference(name));

    /// <summary>A stored tensor: F64/F32 as a Float64 tensor, I64 as an Int32 tensor.</summary>
    internal Tensor Tensor(string name)
    {
        var shape = _reader.Shape(name);
        if (_reader.DType(name) == "I64")
            return FlexNet.Tensors.Tensor.FromArray(Array.ConvertAll(_reader.I64(name), v => checked((int)v)), shape);
        return FlexNet.Tensors.Tensor.FromArray(_reader.F64(name), shape);
    }
}
