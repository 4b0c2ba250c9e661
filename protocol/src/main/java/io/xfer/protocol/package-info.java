package io.xfer.protocol;
