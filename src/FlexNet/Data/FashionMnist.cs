namespace FlexNet.Data;

/// <summary>
/// Loader for Fashion-MNIST (Zalando; same IDX layout as MNIST): 28×28 grey-scale images of 10 clothing
/// classes. A split is the pair <c>{split}-images-idx3-ubyte[.gz]</c> / <c>{split}-labels-idx1-ubyte[.gz]</c>,
/// with split <c>train</c> (60,000) or <c>t10k</c> (10,000).
/// </summary>
public static class FashionMnist
{
    /// <summary>Image height and width in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>Pixels per image = 28 · 28 = 784.</summary>
    public const int PixelsPerImage = ImageSize * ImageSize;

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The environment variable that names the data directory.</summary>
    public const string DirectoryVariable = "FASHION_MNIST_DIR";

    /// <summary>The system-wide location checked when <see cref="DirectoryVariable"/> is unset.</summary>
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Class names indexed by label 0..9.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// The data directory: the value of <c>FASHION_MNIST_DIR</c> when set and non-empty, else
    /// <c>/usr/share/datasets/fashion-mnist</c> when it exists, else <c>null</c>.
    /// </summary>
    public static string? DefaultDirectory =>
        ResolveDirectory(Environment.GetEnvironmentVariable(DirectoryVariable), Directory.Exists(SystemDirectory));

    /// <summary>The rule of <see cref="DefaultDirectory"/>, given the variable's value and whether the system folder exists.</summary>
    internal static string? ResolveDirectory(string? variable, bool systemDirectoryExists)
    {
        if (!string.IsNullOrWhiteSpace(variable)) return variable;
        return systemDirectoryExists ? SystemDirectory : null;
    }

    /// <summary>
    /// Loads one split. Images become <c>float</c> in [0, 1] (<c>pixel / 255</c>), row-major
    /// <c>[count, 784]</c>; labels are 0..9.
    /// </summary>
    /// <param name="directory">Folder holding the IDX files (raw or .gz; a raw file is preferred when both exist).</param>
    /// <param name="split"><c>"train"</c>, or <c>"t10k"</c> / <c>"test"</c>.</param>
    /// <returns><c>Images</c> of length <c>Count · 784</c>, <c>Labels</c> of length <c>Count</c>, and <c>Count</c>.</returns>
    /// <exception cref="ArgumentException">Unknown split.</exception>
    /// <exception cref="FileNotFoundException">A file of the split is missing (the message lists the names tried).</exception>
    /// <exception cref="DatasetFormatException">Malformed IDX, images not 28×28, label count ≠ image count, or a label ≥ 10.</exception>
    public static (float[] Images, int[] Labels, int Count) Load(string directory, string split)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(split);
        string prefix = split switch
        {
            "train" => "train",
            "t10k" or "test" => "t10k",
            _ => throw new ArgumentException($"Fashion-MNIST split must be \"train\" or \"t10k\"/\"test\". Received: \"{split}\".", nameof(split)),
        };
        string imagesPath = Find(directory, $"{prefix}-images-idx3-ubyte");
        string labelsPath = Find(directory, $"{prefix}-labels-idx1-ubyte");

        IdxArray images = Idx.Read(imagesPath, expectedRank: 3);
        if (images.Shape[1] != ImageSize || images.Shape[2] != ImageSize)
            throw new DatasetFormatException(
                $"IDX file '{imagesPath}': images must be {ImageSize}x{ImageSize}, found shape [{string.Join(", ", images.Shape)}] (dimensions at byte offset 8).");
        IdxArray labels = Idx.Read(labelsPath, expectedRank: 1);
        int count = images.Shape[0];
        if (labels.Shape[0] != count)
            throw new DatasetFormatException(
                $"Fashion-MNIST '{prefix}': label count {labels.Shape[0]} in '{labelsPath}' does not match image count {count} in '{imagesPath}' (counts at byte offset 4).");

        var y = new int[count];
        byte[] raw = labels.Data;
        for (int i = 0; i < count; i++)
        {
            if (raw[i] >= ClassCount)
                throw new DatasetFormatException(
                    $"IDX file '{labelsPath}': label {raw[i]} at index {i} (byte offset {8 + i}{(IsGzip(labelsPath) ? ", decompressed" : "")}) is not a class 0..{ClassCount - 1}.");
            y[i] = raw[i];
        }

        byte[] pixels = images.Data;
        var x = new float[pixels.Length];
        // A table of the 256 exact quotients p / 255f (division, not multiplication by a rounded reciprocal).
        Span<float> table = stackalloc float[256];
        for (int p = 0; p < 256; p++) table[p] = p / 255f;
        for (int i = 0; i < pixels.Length; i++) x[i] = table[pixels[i]];
        return (x, y, count);
    }

    private static string Find(string directory, string baseName)
    {
        string raw = Path.Combine(directory, baseName);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        if (File.Exists(gz)) return gz;
        throw new FileNotFoundException(
            $"Fashion-MNIST file not found: tried '{raw}' and '{gz}'. Set {DirectoryVariable} to the folder holding the IDX files.", gz);
    }

    private static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
}
