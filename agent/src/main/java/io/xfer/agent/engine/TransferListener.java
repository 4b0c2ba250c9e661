package io.xfer.agent.engine;

/**
 * Receives a transfer's per-entry events. Called from the transfer's own thread; implementations must be quick.
 */
@FunctionalInterface
public interface TransferListener
{
    TransferListener NONE = event -> {};

    void onEvent(TransferEvent event);
}
