using System.Diagnostics;
using System.Text;
using FlexNet.IO;
using Xunit;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>Temp directories, testdata paths and the hostile-input harness shared by the IO and Data tests.</summary>
internal static class TestFiles
{
    public static string TestData(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "testdata", .. parts]);

    public static string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "flexnet-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on hostile input: it must return normally or throw exactly
    /// <typeparamref name="TEx"/> whose message names <paramref name="source"/>, within one second.
    /// Returns true when it threw.
    /// </summary>
    public static bool ReturnsOrThrowsTyped<TEx>(Action action, string source, string caseLabel, TimeSpan? limit = null)
        where TEx : Exception
    {
        var sw = Stopwatch.StartNew();
        bool threw = false;
        try
        {
            action();
        }
        catch (TEx e)
        {
            threw = true;
            if (!e.Message.Contains(source, StringComparison.Ordinal))
                Assert.Fail($"{caseLabel}: {typeof(TEx).Name} message does not name the source '{source}': {e.Message}");
        }
        catch (Exception e)
        {
            Assert.Fail($"{caseLabel}: leaked {e.GetType().FullName} instead of {typeof(TEx).Name}: {e.Message}\n{e.StackTrace}");
        }
        sw.Stop();
        TimeSpan max = limit ?? TimeSpan.FromSeconds(1);
        Assert.True(sw.Elapsed < max, $"{caseLabel}: took {sw.Elapsed.TotalMilliseconds:F0} ms (limit {max.TotalMilliseconds} ms).");
        return threw;
    }

    /// <summary>Parses <paramref name="bytes"/> and, if that succeeds, converts every tensor every way.</summary>
    public static void ParseAndTouchAll(byte[] bytes, string source)
    {
        SafeTensorFile f = SafeTensorFile.Parse(bytes, source);
        foreach (SafeTensorEntry t in f.Tensors)
        {
            _ = t.ToDoubleArray();
            _ = t.ToFloatArray();
            _ = t.Shape;
            if (t.DType is SafeTensorDType.I64 or SafeTensorDType.I32 or SafeTensorDType.U8)
                _ = t.ToInt64Array();
        }
        foreach (var kv in f.Metadata) _ = kv.Value.Length;
    }

    /// <summary>Builds a safetensors image from a literal header and data bytes, with a correct length prefix.</summary>
    public static byte[] Image(string headerJson, byte[]? data = null, int? dataLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        data ??= new byte[dataLength ?? 0];
        var file = new byte[8 + header.Length + data.Length];
        BitConverter.TryWriteBytes(file.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    /// <summary>Replaces the header of a valid image with <paramref name="newHeader"/> (length prefix fixed up), keeping the data.</summary>
    public static byte[] WithHeader(byte[] image, string newHeader)
    {
        ulong n = BitConverter.ToUInt64(image, 0);
        byte[] data = image.AsSpan(8 + (int)n).ToArray();
        return Image(newHeader, data);
    }

    public static string HeaderOf(byte[] image)
    {
        ulong n = BitConverter.ToUInt64(image, 0);
        return Encoding.UTF8.GetString(image, 8, (int)n);
    }
}
