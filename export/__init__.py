"""Deployment stage: TFLite (LiteRT) conversion, quantization, parity checks, latency benchmark."""
