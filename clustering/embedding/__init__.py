"""Dense embeddings: the sentence-transformers model, its compact and ONNX forms, and the vectors reused without
a forward pass.
"""
