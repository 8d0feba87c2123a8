from edge.cli import stage_main

stage_main("model-card")
