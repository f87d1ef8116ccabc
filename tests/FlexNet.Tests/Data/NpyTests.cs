using System.Text;
using FlexNet.Data;
using FlexNet.Tests.IO;
using Xunit;
using FlexNet.Tensors;

namespace FlexNet.Tests.Data;

public sealed class NpyTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Written by numpy 1.24.2 with np.save (see each comment), base64-encoded.
    private const string NumpyF4 = // np.arange(6, dtype='<f4').reshape(2, 3)
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=";
    private const string NumpyF8 = // np.array([1.5, -2.25], '<f8')
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAALA";
    private const string NumpyI8 = // np.array([[1, -2], [3, 4]], '<i8')
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AwAAAAAAAAAEAAAAAAAAAA==";
    private const string NumpyI4Scalar = // np.array(7, '<i4')
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAA";
    private const string NumpyU1 = // np.array([0, 255, 7], np.uint8)
        "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoA/wc=";
    private const string NumpyFortran = // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=";
    private const string NumpyBigEndian = // np.arange(3, dtype='>f4')
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=";
    private const string NumpyObject = // np.array([1, 'a'], dtype=object), allow_pickle=True
        "k05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqAA2NudW1weS5jb3JlLm11bHRpYXJyYXkKX3JlY29uc3RydWN0CnEAY251bXB5Cm5kYXJyYXkKcQFLAIVxAkMBYnEDh3EEUnEFKEsBSwKFcQZjbnVtcHkKZHR5cGUKcQdYAgAAAE84cQiJiIdxCVJxCihLA1gBAAAAfHELTk5OSv////9K/////0s/dHEMYoldcQ0oSwFYAQAAAGFxDmV0cQ9iLg==";
    private const string NumpyEmpty = // np.zeros((0, 3), '<f4')
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=";

    private static NpyArray Parse(string b64, string name = "numpy.npy") => Npy.Read(new MemoryStream(Convert.FromBase64String(b64)), name);

    [Fact]
    public void ReadsFilesWrittenByNumpy()
    {
        NpyArray f4 = Parse(NumpyF4);
        Assert.Equal(NpyDType.Float32, f4.DType);
        Assert.Equal([2, 3], f4.Shape);
        Assert.Equal([0f, 1, 2, 3, 4, 5], f4.GetData<float>());

        NpyArray f8 = Parse(NumpyF8);
        Assert.Equal([2], f8.Shape);
        Assert.Equal([1.5, -2.25], f8.GetData<double>());

        NpyArray i8 = Parse(NumpyI8);
        Assert.Equal([1L, -2, 3, 4], i8.GetData<long>());
        Assert.Equal([1f, -2, 3, 4], i8.ToFloatArray());

        NpyArray i4 = Parse(NumpyI4Scalar);
        Assert.Equal([], i4.Shape);
        Assert.Equal([7], i4.GetData<int>());
        Assert.Equal([7L], i4.ToInt64Array());

        NpyArray u1 = Parse(NumpyU1);
        Assert.Equal(NpyDType.UInt8, u1.DType);
        Assert.Equal([(byte)0, 255, 7], u1.GetData<byte>());
        Assert.Equal([0.0, 255, 7], u1.ToDoubleArray());

        NpyArray empty = Parse(NumpyEmpty);
        Assert.Equal([0, 3], empty.Shape);
        Assert.Equal(0, empty.Count);

        Assert.Throws<InvalidOperationException>(() => f4.GetData<double>());
        Assert.Throws<InvalidOperationException>(() => f4.ToInt64Array());
    }

    [Theory]
    [InlineData(NumpyFortran, "fortran_order is True")]
    [InlineData(NumpyBigEndian, "big-endian dtype '>f4'")]
    [InlineData(NumpyObject, "unsupported dtype '|O'")]
    public void RejectsWhatItCannotRepresent(string b64, string expected)
    {
        var ex = Assert.Throws<DatasetFormatException>(() => Parse(b64, "x.npy"));
        Assert.Contains("x.npy", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Contains("byte offset 10", ex.Message);
    }

    [Fact]
    public void RoundTripsEveryDType_WithNumpyStyleHeaders()
    {
        var cases = new (string Name, NpyArray Array)[]
        {
            ("f4", new NpyArray(new[] { 1.5f, float.NaN, -0f, 3, 4, 5 }, [3, 2])),
            ("f8", new NpyArray(new[] { Math.E, double.MaxValue }, [2])),
            ("i8", new NpyArray(new[] { long.MinValue, long.MaxValue, 0, 1 }, [2, 1, 2])),
            ("i4", new NpyArray(new[] { 42 }, [])),
            ("u1", new NpyArray(new byte[] { 0, 1, 255 }, [3, 1])),
            ("empty", new NpyArray(Array.Empty<float>(), [0, 5])),
        };
        foreach ((string name, NpyArray a) in cases)
        {
            string p = Path.Combine(_dir, name + ".npy");
            Npy.Write(p, a);
            byte[] bytes = File.ReadAllBytes(p);
            int headerLength = BitConverter.ToUInt16(bytes, 8);
            Assert.Equal(0, (10 + headerLength) % 64);
            Assert.Equal((byte)'\n', bytes[10 + headerLength - 1]);
            NpyArray b = Npy.Read(p);
            Assert.Equal(a.DType, b.DType);
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Data, b.Data);
        }
        // The header text is numpy's own.
        byte[] f4 = File.ReadAllBytes(Path.Combine(_dir, "f4.npy"));
        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
            Encoding.ASCII.GetString(f4, 10, BitConverter.ToUInt16(f4, 8)).TrimEnd());
        // Same array, same bytes as numpy wrote.
        string again = Path.Combine(_dir, "again.npy");
        Npy.Write(again, new float[] { 0, 1, 2, 3, 4, 5 }, [2, 3]);
        Assert.Equal(Convert.FromBase64String(NumpyF4), File.ReadAllBytes(again));
        Npy.Write(again, new byte[] { 0, 255, 7 }, [3]);
        Assert.Equal(Convert.FromBase64String(NumpyU1), File.ReadAllBytes(again));
        Npy.Write(again, new int[] { 7 }, []);
        Assert.Equal(Convert.FromBase64String(NumpyI4Scalar), File.ReadAllBytes(again));
        Npy.Write(again, new long[] { 1, -2, 3, 4 }, [2, 2]);
        Assert.Equal(Convert.FromBase64String(NumpyI8), File.ReadAllBytes(again));
        Npy.Write(again, new double[] { 1.5, -2.25 }, [2]);
        Assert.Equal(Convert.FromBase64String(NumpyF8), File.ReadAllBytes(again));
    }

    private static byte[] Handmade(string header, int major = 1, byte[]? data = null)
        => NpyMessageTests.Raw(Encoding.Latin1.GetBytes(header), major, data);

    [Fact]
    public void ReadsVersion2And3Headers_DoubleQuotes_AndPython2Longs()
    {
        byte[] v2 = Handmade("{\"descr\": \"<i4\", \"shape\": (2L,), \"fortran_order\": False}\n", 2, [1, 0, 0, 0, 2, 0, 0, 0]);
        Assert.Equal([1, 2], Npy.Read(new MemoryStream(v2), "v2").GetData<int>());
        byte[] v3 = Handmade("{'descr': '|u1', 'fortran_order': True, 'shape': (1,)}", 3, [9]);
        Assert.Equal([(byte)9], Npy.Read(new MemoryStream(v3), "v3").GetData<byte>()); // 1-D: Fortran = C order
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "magic", "NUMPY\x01\x00\x00\x00"u8.ToArray(), "wrong magic" },
        { "short", [0x93, (byte)'N'], "too short" },
        { "version", Handmade("{}", major: 9), "unsupported format version 9.0" },
        { "missing-key", Handmade("{'descr': '<f4', 'shape': (1,)}", data: new byte[4]), "lacks 'fortran_order'" },
        { "extra-key", Handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data: new byte[4]), "unexpected key 'x'" },
        { "dup-key", Handmade("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data: new byte[4]), "duplicate key 'descr'" },
        { "structured", Handmade("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", data: new byte[4]), "structured dtypes" },
        { "neg-dim", Handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), "non-negative integers" },
        { "huge-dim", Handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,)}"), "exceeds 2147483647" },
        { "overflow", Handmade("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647)}"), "too large" },
        { "truncated-data", Handmade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", data: new byte[23]), "truncated data" },
        { "trailing", Handmade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", data: new byte[25]), "1 trailing bytes" },
        { "truncated-header", Handmade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}")[..30], "truncated header" },
        { "bad-bool", Handmade("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", data: new byte[4]), "True or False" },
        { "code", Handmade("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}", data: new byte[4]), "simple dtype string" },
        { "junk-after", Handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", data: new byte[4]), "after the header dict" },
        { "escape", Handmade("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", data: new byte[4]), "escape sequences" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_IsDatasetFormatException_WithFileAndOffset(string label, byte[] bytes, string expected)
    {
        string p = Path.Combine(_dir, label + ".npy");
        File.WriteAllBytes(p, bytes);
        var ex = Assert.Throws<DatasetFormatException>(() => Npy.Read(p));
        Assert.Contains(p, ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Contains("byte offset", ex.Message);
    }

    [Fact]
    public void EveryTruncationAndSeededBitFlips_ReturnOrThrowTyped()
    {
        byte[][] seeds = [Convert.FromBase64String(NumpyF4), Convert.FromBase64String(NumpyI8), Convert.FromBase64String(NumpyI4Scalar)];
        foreach (byte[] s in seeds)
        {
            for (int len = 0; len < s.Length; len++)
            {
                byte[] cut = s[..len];
                string src = $"cut-{len}.npy";
                Assert.True(TestFiles.ReturnsOrThrowsTyped<DatasetFormatException>(() => Npy.Read(new MemoryStream(cut), src), src, src), $"{src} accepted");
            }
        }
        var rng = new Random(5);
        for (int iter = 0; iter < 2000; iter++)
        {
            byte[] m = (byte[])seeds[iter % seeds.Length].Clone();
            for (int k = 0; k < 1 + rng.Next(3); k++)
            {
                int pos = rng.Next(Math.Min(m.Length, 80)); // magic, lengths and the dict
                m[pos] ^= (byte)(1 << rng.Next(8));
            }
            string src = $"flip-{iter}.npy";
            TestFiles.ReturnsOrThrowsTyped<DatasetFormatException>(() => Npy.Read(new MemoryStream(m), src), src, src);
        }
    }

    [Fact]
    public void ShapeMismatchOnWrite_IsRejected_AndNothingIsWritten()
    {
        string p = Path.Combine(_dir, "bad.npy");
        Assert.Throws<ShapeMismatchException>(() => Npy.Write(p, new float[5], [2, 3]));
        Assert.Throws<ArgumentException>(() => Npy.Write(p, new float[0], [-1]));
        Assert.False(File.Exists(p));
    }
}
