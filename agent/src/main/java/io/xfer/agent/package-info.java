package io.xfer.agent;
