"""SKAdNetwork / AdAttributionKit: conversion-value schemas, values and Apple postbacks."""
