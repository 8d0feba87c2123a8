"""Synthetic faces: one drawn face (``faces``) and test videos of them moving over backgrounds (``video``),
for the demo, the benchmarks and the tests."""
