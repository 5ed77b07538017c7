"""The knowledge graph: merged document results → nodes and edges with their mentions, stored in an
embedded graph database (LadybugDB), exported to the stores people run, and drawn for a person to look at.

``facts`` reads one merged document into node and edge pieces; ``build`` aggregates them (streaming,
through id-sorted partitions on disk) into a GRAPH folder; ``store`` owns the database and answers
queries; ``export`` and ``view`` read a finished GRAPH folder.
"""
