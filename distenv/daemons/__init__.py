"""(built by a later issue)"""
