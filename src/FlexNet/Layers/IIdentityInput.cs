namespace FlexNet.Layers;

/// <summary>A layer that transforms its input as it is (batch norm, dropout, Gaussian noise): its natural incoming
/// connection is the identity, so <c>network.Connect(from, to)</c> makes an identity connection into it.</summary>
internal interface IIdentityInput;
