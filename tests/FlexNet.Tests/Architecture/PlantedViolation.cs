using FlexNet.Tests.Architecture.Planted.High;

// Fixture for LayeringTests: a lower namespace that uses a higher one only inside a method body (no signature, no
// field), and a type that imports the higher namespace without using it (which must not count).
namespace FlexNet.Tests.Architecture.Planted.High
{
    internal static class Top
    {
        internal static int Value() => 42;
    }
}

namespace FlexNet.Tests.Architecture.Planted.Low
{
    internal static class Sneaky
    {
        internal static int Read() => Top.Value() + 1;
    }

    internal static class Innocent
    {
        internal static int Read() => 1;
    }
}
