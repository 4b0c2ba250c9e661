package io.xfer.tools;
