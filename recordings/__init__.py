"""hotline.recordings"""
