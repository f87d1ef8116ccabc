using System.Globalization;
using System.Text.RegularExpressions;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>Runs alone: <see cref="AtomicFile.BeforeRename"/> is process-wide, and a write of another test would run
/// the hook set here.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AtomicFileHookCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "AtomicFile hook";
}

/// <summary>
/// What <see cref="AtomicFile.Write"/> does between writing the temporary and renaming it: the temporary's name, the
/// flush of a stream that holds its bytes until flushed, the <see cref="AtomicFile.BeforeRename"/> hook (which the
/// checkpoint kill test relies on to land a SIGKILL inside a write), the directory handle of the fsync closed, and the
/// set of writes in flight emptied.
/// </summary>
[Collection(AtomicFileHookCollection.Name)]
public sealed class AtomicFileHookTests
{
    /// <summary>Keeps what is written in memory and hands it to the file only on <see cref="Flush"/>; disposing does not
    /// flush (like a writer whose owner must flush it).</summary>
    private sealed class HoldUntilFlush(string path) : Stream
    {
        private readonly MemoryStream _held = new();
        public int Flushes { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush()
        {
            Flushes++;
            File.WriteAllBytes(path, _held.ToArray());
        }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _held.Write(buffer, offset, count);
    }

    [Fact]
    public void TheHookSeesTheCompleteTemporaryWhileTheOldFileIsStillInPlace()
    {
        string dir = TestFiles.NewTempDir();
        string dest = Path.Combine(dir, "o.bin");
        File.WriteAllBytes(dest, [7]);
        var calls = new List<(string Path, byte[] Old, string Temp, byte[] New)>();
        AtomicFile.BeforeRename = p =>
        {
            string temp = Directory.GetFiles(dir, ".o.bin.*.tmp").Single();
            calls.Add((p, File.ReadAllBytes(dest), temp, File.ReadAllBytes(temp)));
        };
        try
        {
            // a relative path: the hook gets the full one
            string relative = Path.GetRelativePath(Environment.CurrentDirectory, dest);
            AtomicFile.Write(relative, s => s.Write([1, 2, 3]));
        }
        finally
        {
            AtomicFile.BeforeRename = null;
        }
        var call = Assert.Single(calls);
        Assert.Equal(dest, call.Path);
        Assert.Equal([7], call.Old);
        Assert.Equal([1, 2, 3], call.New);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(dest));
        Assert.False(File.Exists(call.Temp));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void AHookThatThrowsAbortsTheWriteAndDeletesTheTemporary()
    {
        string dir = TestFiles.NewTempDir();
        string dest = Path.Combine(dir, "o.bin");
        File.WriteAllBytes(dest, [7]);
        AtomicFile.BeforeRename = _ => throw new IOException("killed before the rename");
        try
        {
            Assert.Equal("killed before the rename",
                Assert.Throws<IOException>(() => AtomicFile.Write(dest, s => s.Write([1, 2, 3]))).Message);
        }
        finally
        {
            AtomicFile.BeforeRename = null;
        }
        Assert.Equal([7], File.ReadAllBytes(dest));
        Assert.Equal([dest], Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void AStreamFromOpenTempIsFlushedBeforeTheRenameAndTheTemporaryIsNamedForTheProcess()
    {
        string dir = TestFiles.NewTempDir();
        string dest = Path.Combine(dir, "o.bin");
        HoldUntilFlush? opened = null;
        string? tempName = null;
        AtomicFile.Write(dest, s => s.Write([4, 5]), temp =>
        {
            tempName = temp;
            return opened = new HoldUntilFlush(temp);
        });
        Assert.NotNull(opened);
        Assert.Equal(1, opened.Flushes);
        Assert.Equal([4, 5], File.ReadAllBytes(dest));
        Assert.Equal(dir, Path.GetDirectoryName(tempName));
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        Assert.Matches(new Regex(@"^\.o\.bin\." + pid + @"\.[0-9a-f]{32}\.tmp$"), Path.GetFileName(tempName!));
        Assert.Equal([dest], Directory.GetFiles(dir));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TheDirectoryOpenedForTheFsyncIsClosedAgain()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/self/fd");
        string dir = TestFiles.NewTempDir();
        for (int i = 0; i < 3; i++) AtomicFile.Write(Path.Combine(dir, "o.bin"), s => s.WriteByte((byte)i));
        var open = new List<string>();
        foreach (var fd in new DirectoryInfo("/proc/self/fd").GetFileSystemInfos())
        {
            try
            {
                if (fd.LinkTarget is string target && target.StartsWith(dir, StringComparison.Ordinal)) open.Add(target);
            }
            catch (IOException)
            {
                // the descriptor of the enumeration itself, or one closed meanwhile
            }
        }
        Assert.Empty(open);
        Assert.Equal([2], File.ReadAllBytes(Path.Combine(dir, "o.bin")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void EveryWriteIsForgottenWhenItEnds()
    {
        // the set of in-flight temporaries must not grow by one name per checkpoint of a long run
        string dir = TestFiles.NewTempDir();
        int before = AtomicFile.InFlightCount;
        int during = -1;
        AtomicFile.Write(Path.Combine(dir, "o.bin"), s =>
        {
            during = AtomicFile.InFlightCount;
            s.WriteByte(1);
        });
        Assert.Equal(before + 1, during);
        Assert.Equal(before, AtomicFile.InFlightCount);
        Assert.Throws<IOException>(() => AtomicFile.Write(Path.Combine(dir, "o.bin"), _ => throw new IOException("fail")));
        Assert.Equal(before, AtomicFile.InFlightCount);
        Directory.Delete(dir, true);
    }
}
