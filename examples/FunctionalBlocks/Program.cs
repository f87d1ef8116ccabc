using System.Diagnostics;
using System.Globalization;
using FlexNet.Autodiff;
using FlexNet.Data;
using FlexNet.FunctionalBlocks;
using FlexNet.Optimizers;
using FlexNet.Tensors;

// A small CNN written as plain function calls with FlexNet.Functional.Blocks (the seed's functional tier), trained on
// the Fashion-MNIST subset shipped in testdata/fashion-mnist (the 10,000 t10k images: the first 8,000 train, the last
// 2,000 are held out and only used for the final test accuracy).
//   dotnet run -c Release --project examples/FunctionalBlocks -- [DATA_DIR] [EPOCHS] [SEED]
var inv = CultureInfo.InvariantCulture;
string dir = args.Length > 0 ? args[0] : Path.Combine("testdata", "fashion-mnist");
int epochs = args.Length > 1 ? int.Parse(args[1], inv) : 3;
ulong seed = args.Length > 2 ? ulong.Parse(args[2], inv) : 1;
const int nTrain = 8000, batch = 64;

var (images, labels, count) = FashionMnist.Load(dir, "t10k");
if (count < nTrain + 1000)
{
    Console.Error.WriteLine($"{dir}: {count} images; this example needs at least {nTrain + 1000}.");
    return 1;
}
int nTest = count - nTrain;
var x = Tensor.FromArray(images.AsSpan(0, count * FashionMnist.PixelsPerImage), count, 1, 28, 28);
var y = Tensor.FromArray(labels.AsSpan(0, count), count);
var xTrain = x.Slice(0, 0, nTrain).Contiguous();
var yTrain = y.Slice(0, 0, nTrain).Contiguous();
var xTest = x.Slice(0, nTrain, nTest).Contiguous();
var yTest = y.Slice(0, nTrain, nTest).Contiguous();

// the network: each call infers its input shape from the previous block and creates its own parameters
var rng = new RandomGenerator(seed);
var b = Blocks.Input([1, 28, 28]);
b = Blocks.Conv(b, 16, 3, rng, padding: Padding.Same);  // [16, 28, 28]
b = Blocks.Activation(b, "relu");
b = Blocks.MaxPool(b, 2);                               // [16, 14, 14]
b = Blocks.Conv(b, 32, 3, rng);                         // [32, 12, 12]
b = Blocks.Activation(b, "relu");
b = Blocks.MaxPool(b, 2);                               // [32, 6, 6]
b = Blocks.Dropout(b, 0.25, rng);
b = Blocks.Linear(b, 64, rng);                          // flattens 1152 → 64
b = Blocks.Activation(b, "relu");
b = Blocks.Dropout(b, 0.25, rng);
b = Blocks.Linear(b, 10, rng);                          // logits
Console.WriteLine(b.Summary());

var opt = new Optimizer(b.Parameters, new Adam(2e-3));
var order = new int[nTrain];
for (int i = 0; i < nTrain; i++) order[i] = i;
var shuffle = new Random((int)seed);
var xb = new float[batch * FashionMnist.PixelsPerImage];
var yb = new int[batch];
float[] trainPixels = xTrain.ToFloatArray();
int[] trainLabels = yTrain.ToInt32Array();
var sw = Stopwatch.StartNew();
for (int epoch = 1; epoch <= epochs; epoch++)
{
    shuffle.Shuffle(order);
    double lossSum = 0;
    int batches = 0;
    for (int start = 0; start + batch <= nTrain; start += batch)
    {
        for (int k = 0; k < batch; k++)
        {
            int i = order[start + k];
            trainPixels.AsSpan(i * FashionMnist.PixelsPerImage, FashionMnist.PixelsPerImage).CopyTo(xb.AsSpan(k * FashionMnist.PixelsPerImage));
            yb[k] = trainLabels[i];
        }
        using var scope = TensorScope.Begin();       // every intermediate of this step goes back to the pool
        var loss = NN.CrossEntropy(b.Output(Tensor.FromArray(xb, batch, 1, 28, 28)), Tensor.FromArray(yb, batch));
        opt.ZeroGrad();
        loss.Backward();
        opt.Step();
        lossSum += loss.Item();
        batches++;
    }
    Console.WriteLine($"epoch {epoch}: train loss {(lossSum / batches).ToString("F4", inv)} ({sw.Elapsed.TotalSeconds.ToString("F0", inv)} s)");
}

// evaluation: EvalOutput is the same chain with dropout off; NoGrad skips the tape
int correct = 0;
using (Autograd.NoGrad())
using (TensorScope.Begin())
{
    var predicted = b.EvalOutput(xTest).ArgMax(1).ToInt32Array();
    var truth = yTest.ToInt32Array();
    for (int i = 0; i < nTest; i++) if (predicted[i] == truth[i]) correct++;
}
Console.WriteLine($"RESULT functional_blocks test_acc {(100.0 * correct / nTest).ToString("F2", inv)}% ({correct}/{nTest}) " +
                  $"train_time {sw.Elapsed.TotalSeconds.ToString("F0", inv)}s epochs {epochs}");
return 0;
