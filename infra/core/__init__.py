"""The bottom layer: names, domain errors, paths, CloudFormation limits, tool environments."""
