using System.Globalization;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Which leftover temporary files <see cref="AtomicFile"/> deletes beside a destination: those of dead processes, the
/// old <c>.NAME.GUID.tmp</c> format, and this process's own files that no write is producing; never those of a
/// live process, of another destination, or names it does not recognise.
/// </summary>
public sealed class AtomicFileTemporaryTests
{
    private const string Guid32 = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void OnlyStaleTemporariesOfTheSameDestinationAreDeleted()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string P(string name) => Path.Combine(dir, name);
            int self = Environment.ProcessId;
            var deleted = new[]
            {
                P($".o.bin.2147483646.{Guid32}.tmp"), // a process that cannot exist
                P($".o.bin.{Guid32}.tmp"), // the earlier format: only a crash leaves it
                P(string.Create(CultureInfo.InvariantCulture, $".o.bin.{self}.beef.tmp")), // ours, but no write owns it
            };
            var kept = new[]
            {
                P(".o.bin.1.cafe.tmp"), // pid 1 runs
                P($".o.bin.{Guid32[..31]}g.tmp"), // 36 characters but not a GUID, and no pid either
                P(".o.bin..x.tmp"), // empty pid
                P(".o.bin.12ab.x.tmp"), // pid not a number
                P(".o.bin.-5.x.tmp"), // signs are not part of a pid
                P($".p.bin.2147483646.{Guid32}.tmp"), // another destination
                P($".o.bin.2147483646.{Guid32}.tmq"), // not a temporary
            };
            foreach (string f in deleted.Concat(kept)) File.WriteAllText(f, "x");

            AtomicFile.Write(P("o.bin"), s => s.WriteByte(42));

            Assert.Equal([42], File.ReadAllBytes(P("o.bin")));
            foreach (string f in deleted) Assert.False(File.Exists(f), $"{Path.GetFileName(f)} should have been deleted");
            foreach (string f in kept) Assert.True(File.Exists(f), $"{Path.GetFileName(f)} should have been kept");
            // the write's own temporary is gone too: only the destination and the kept files remain
            Assert.Equal(kept.Length + 1, Directory.GetFiles(dir).Length);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ATemporaryThatAWriteOfThisProcessIsProducingIsKept()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string dest = Path.Combine(dir, "o.bin");
            string? seen = null;
            // while the outer write is in flight, a second write to the same destination must not delete its file
            AtomicFile.Write(dest, s =>
            {
                s.WriteByte(1);
                seen = Directory.GetFiles(dir).Single();
                AtomicFile.RemoveStaleTemporaries(dir, "o.bin");
                Assert.True(File.Exists(seen));
            });
            Assert.NotNull(seen);
            Assert.False(File.Exists(seen));
            Assert.Equal([1], File.ReadAllBytes(dest));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AFailedWriteLeavesTheOldFileAndNoTemporary()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string dest = Path.Combine(dir, "o.bin");
            File.WriteAllBytes(dest, [7]);
            Assert.Throws<IOException>(() => AtomicFile.Write(dest, s =>
            {
                s.WriteByte(1);
                throw new IOException("disk full");
            }));
            Assert.Equal([7], File.ReadAllBytes(dest));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AMissingDirectoryIsAnIOErrorWithoutLeftovers()
    {
        string dir = Path.Combine(TestFiles.NewTempDir(), "absent");
        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(Path.Combine(dir, "o.bin"), s => s.WriteByte(1)));
        Assert.False(Directory.Exists(dir));
        Directory.Delete(Path.GetDirectoryName(dir)!, true);
    }
}
