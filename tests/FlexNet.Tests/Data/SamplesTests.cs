using FlexNet.Data;
using FlexNet.Tests.IO;
using Xunit;

namespace FlexNet.Tests.Data;

/// <summary>
/// <see cref="Samples"/> reads the input and label files that the CLI (<c>flexnet predict</c>) and spec files
/// (<c>SpecData</c>) name: NPY (first axis = samples), CSV without header (one sample a row) and IDX (bytes / 255).
/// Expected values are written out by hand.
/// </summary>
public sealed class SamplesTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Npy(string name, NpyArray a)
    {
        string p = Path.Combine(_dir, name);
        FlexNet.Data.Npy.Write(p, a);
        return p;
    }

    private string Text(string name, string text)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllText(p, text);
        return p;
    }

    private string Bytes(string name, byte[] bytes)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static string Fails(Action a) => Assert.Throws<DatasetFormatException>(a).Message;

    [Fact]
    public void Read_Npy_FirstAxisCountsTheSamples()
    {
        string p = Npy("x.npy", new NpyArray(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]));
        SampleSet s = Samples.Read(p);
        Assert.Equal([1f, 2, 3, 4, 5, 6], s.Values);
        Assert.Equal(3, s.Count);
        Assert.Equal([2], s.SampleShape);
        Assert.Equal(2, s.Features);
        Assert.Equal(p, s.Source);

        SampleSet cube = Samples.Read(Npy("c.NPY", new NpyArray(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, [2, 2, 3])));
        Assert.Equal(2, cube.Count);
        Assert.Equal([2, 3], cube.SampleShape);
        Assert.Equal(6, cube.Features);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], cube.Values);

        SampleSet vector = Samples.Read(Npy("v.npy", new NpyArray(new double[] { 0.5, -1.5, 2 }, [3])));
        Assert.Equal(3, vector.Count);
        Assert.Equal([1], vector.SampleShape);
        Assert.Equal(1, vector.Features);
        Assert.Equal([0.5f, -1.5f, 2f], vector.Values);

        SampleSet none = Samples.Read(Npy("e.npy", new NpyArray(new float[0], [0, 3])));
        Assert.Equal(0, none.Count);
        Assert.Equal([3], none.SampleShape);
        Assert.Equal(0, none.Features);

        string scalar = Npy("s.npy", new NpyArray(new float[] { 4 }, []));
        Assert.Equal($"{scalar}: a scalar is not a set of samples; the first axis counts the samples.", Fails(() => Samples.Read(scalar)));
    }

    [Fact]
    public void Read_Csv_HasNoHeader()
    {
        string p = Text("x.CSV", "1,2\n3,4\n5,6\n");
        SampleSet s = Samples.Read(p);
        Assert.Equal(3, s.Count);
        Assert.Equal([2], s.SampleShape);
        Assert.Equal([1f, 2, 3, 4, 5, 6], s.Values);
        string named = Text("h.csv", "a,b\n1,2\n");
        Assert.Equal($"CSV '{named}', line 1, column 1: 'a' is not a number.", Fails(() => Samples.Read(named)));
    }

    [Fact]
    public void Read_Idx_ScalesBytesToUnitRange()
    {
        string p = Bytes("x.idx", IdxTests.Make(0x08, [2, 2], [0, 51, 255, 128]));
        SampleSet s = Samples.Read(p);
        Assert.Equal(2, s.Count);
        Assert.Equal([2], s.SampleShape);
        Assert.Equal([0f, 0.2f, 1f, 128 / 255f], s.Values);
        SampleSet gz = Samples.Read(Bytes("y.gz", IdxTests.Gzip(IdxTests.Make(0x08, [3], [255, 0, 51]))));
        Assert.Equal(3, gz.Count);
        Assert.Equal([1], gz.SampleShape);
        Assert.Equal([1f, 0f, 0.2f], gz.Values);
        SampleSet images = Samples.Read(Bytes("i.bin", IdxTests.Make(0x08, [1, 2, 3], [1, 2, 3, 4, 5, 6])));
        Assert.Equal([2, 3], images.SampleShape);
        Assert.Equal(6, images.Features);
    }

    [Fact]
    public void Paths_MustBeGiven()
    {
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => Samples.Read(null!)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => Samples.Read(" ")).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => Samples.ReadLabels(null!)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => Samples.ReadLabels("")).ParamName);
    }

    [Fact]
    public void ReadLabels_Npy()
    {
        Assert.Equal([2, 0, 1], Samples.ReadLabels(Npy("a.npy", new NpyArray(new long[] { 2, 0, 1 }, [3]))));
        Assert.Equal([2, 0, int.MaxValue], Samples.ReadLabels(Npy("b.NPY", new NpyArray(new long[] { 2, 0, int.MaxValue }, [3, 1])), 3));
        Assert.Equal([7, 255], Samples.ReadLabels(Npy("c.npy", new NpyArray(new byte[] { 7, 255 }, [2]))));
        Assert.Equal([4], Samples.ReadLabels(Npy("d.npy", new NpyArray(new int[] { 4 }, [1, 1]))));

        string f4 = Npy("e.npy", new NpyArray(new float[] { 1 }, [1]));
        Assert.Equal($"{f4}: the labels are floating-point (Float32); a class loss takes integer labels, one class number " +
                     "per sample: save them as integers (numpy: y.astype(np.int64)).", Fails(() => Samples.ReadLabels(f4)));
        string f8 = Npy("f.npy", new NpyArray(new double[] { 1 }, [1]));
        Assert.StartsWith($"{f8}: the labels are floating-point (Float64); ", Fails(() => Samples.ReadLabels(f8)));

        foreach ((int[] shape, string shown) in new[] { (new[] { 3, 2 }, "[3, 2]"), (new[] { 6, 1, 1 }, "[6, 1, 1]"), (Array.Empty<int>(), "[]") })
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            string p = Npy("g.npy", new NpyArray(new long[n], shape));
            Assert.Equal($"{p}: labels are one class number per sample, shape [N]; the array has shape {shown}.", Fails(() => Samples.ReadLabels(p)));
        }
        string neg = Npy("h.npy", new NpyArray(new long[] { 0, -1 }, [2]));
        Assert.Equal($"{neg}: label 1 is -1; labels are class numbers from 0.", Fails(() => Samples.ReadLabels(neg)));
        string big = Npy("i.npy", new NpyArray(new long[] { 2147483648L }, [1]));
        Assert.Equal($"{big}: label 0 is 2147483648; labels are class numbers from 0.", Fails(() => Samples.ReadLabels(big)));
    }

    [Fact]
    public void ReadLabels_CsvAndIdx_AndTheExpectedCount()
    {
        Assert.Equal([3, 0, 1], Samples.ReadLabels(Text("a.csv", "3\n0\n1\n")));
        string two = Text("b.csv", "3,1\n0,2\n");
        Assert.Equal($"{two}: a labels file has one column (a class number a row); it has 2.", Fails(() => Samples.ReadLabels(two)));
        string frac = Text("c.csv", "1.5\n");
        Assert.Equal($"CSV '{frac}', line 1: label 1.5 is not a class index (a non-negative integer).", Fails(() => Samples.ReadLabels(frac)));

        string idx = Bytes("l.idx", IdxTests.Make(0x08, [4], [9, 0, 255, 3]));
        Assert.Equal([9, 0, 255, 3], Samples.ReadLabels(idx, expected: 4));
        string matrix = Bytes("m.idx", IdxTests.Make(0x08, [2, 2], [9, 0, 255, 3]));
        Assert.Equal($"IDX file '{matrix}': ndims mismatch: expected 1, found 2 (at byte offset 3).", Fails(() => Samples.ReadLabels(matrix)));

        Assert.Equal($"{idx}: 4 labels for 5 samples.", Fails(() => Samples.ReadLabels(idx, expected: 5)));
        string csv = Text("d.csv", "1\n2\n");
        Assert.Equal($"{csv}: 2 labels for 1 samples.", Fails(() => Samples.ReadLabels(csv, expected: 1)));
        Assert.Equal([1, 2], Samples.ReadLabels(csv, expected: 2));
    }
}
