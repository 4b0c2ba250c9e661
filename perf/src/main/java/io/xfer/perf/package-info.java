package io.xfer.perf;
