using FlexNet.Data;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Data;

/// <summary>
/// <see cref="Npy.Write(string, NpyArray)"/> must replace the destination by writing a temporary file and renaming it:
/// a reader that opened the old file keeps reading the complete old file, and no temporary file is left behind.
/// (Overwriting in place would truncate the file under that reader.)
/// </summary>
public sealed class NpyAtomicWriteTests
{
    [Fact]
    public void ReplacesTheFileInsteadOfOverwritingItInPlace()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "a.npy");
            float[] old = [1, 2, 3, 4, 5, 6, 7, 8];
            Npy.Write(path, old, [8]);
            byte[] oldBytes = File.ReadAllBytes(path);

            using (var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                Npy.Write(path, new float[] { -1, -2 }, [2]);
                // the open handle still sees every byte of the old file
                var seen = new byte[oldBytes.Length + 16];
                int n = 0, r;
                while ((r = reader.Read(seen, n, seen.Length - n)) > 0) n += r;
                Assert.Equal(oldBytes, seen.AsSpan(0, n).ToArray());
            }

            Assert.Equal([-1f, -2f], Npy.Read(path).ToFloatArray());
            Assert.Equal(["a.npy"], Directory.GetFiles(dir).Select(Path.GetFileName).ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void EveryTypedOverloadWritesAtomically()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "b.npy");
            Npy.Write(path, new double[] { 1, 2, 3 }, [3]);
            byte[] oldBytes = File.ReadAllBytes(path);
            Action[] writes =
            [
                () => Npy.Write(path, new float[] { 9 }, [1]),
                () => Npy.Write(path, new double[] { 9 }, [1]),
                () => Npy.Write(path, new long[] { 9 }, [1]),
                () => Npy.Write(path, new int[] { 9 }, [1]),
                () => Npy.Write(path, new byte[] { 9 }, [1]),
            ];
            foreach (var write in writes)
            {
                Npy.Write(path, new double[] { 1, 2, 3 }, [3]);
                using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                write();
                var seen = new byte[oldBytes.Length + 16];
                int n = 0, r;
                while ((r = reader.Read(seen, n, seen.Length - n)) > 0) n += r;
                Assert.Equal(oldBytes, seen.AsSpan(0, n).ToArray());
            }
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
